package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/httpapi"
	"github.com/authd/authd/ratelimit"
)

// The operator's commands: authd users ... and authd keys list|retire, the admin API's
// operations from the command line, on the database the settings name, while servers run.

// adminCommands are the commands of this file, in the order `authd -h` lists them.
func adminCommands() []command {
	return []command{
		{"users list", "[-search text] [-limit n] [-cursor c] [-json]", "list accounts in the order they joined, a page at a time", usersList},
		{"users show", "[-json] ID|EMAIL", "show an account", userCommand("show", "Shows the account.", nil)},
		{"users create", "-email e -first-name f -last-name l -phone p [-address a] [-json]", "create an account as registration does; a code to set its password is emailed", usersCreate},
		{"users disable", "ID|EMAIL", "disable an account: its tokens fail at once", userCommand("disable", "Disables the account: its tokens fail at once, and it cannot sign in until enabled.", setActive(false))},
		{"users enable", "ID|EMAIL", "enable a disabled account", userCommand("enable", "Enables a disabled account.", setActive(true))},
		{"users delete", "ID|EMAIL", "delete an account and everything of it", userCommand("delete", "Deletes the account and everything of it (sign-ins, codes, links, mail).", func(ctx context.Context, svc *auth.Service, id string) error { return svc.AdminDeleteUser(ctx, id) })},
		{"users signout", "ID|EMAIL", "end every sign-in of an account", userCommand("signout", "Ends every sign-in of the account: its refresh and access tokens stop working.", func(ctx context.Context, svc *auth.Service, id string) error { return svc.AdminSignOut(ctx, id) })},
		{"users unlock", "ID|EMAIL", "clear the failed sign-ins counted for an account's email", userCommand("unlock", "Clears the failed sign-ins counted for the account's email (in Redis when AUTH_REDIS_URL is set, and in the database), so its owner can sign in at once.", func(ctx context.Context, svc *auth.Service, id string) error { return svc.AdminUnlock(ctx, id) })},
		{"audit", "[-user id|email] [-event name] [-since time] [-limit n] [-cursor c] [-json]", "show the audit log, newest first, a page at a time", auditList},
		{"keys list", "[-json]", "list the signing and refresh keys", keysList},
		{"keys retire", "KID", "retire a key: every instance refuses its tokens within AUTH_KEY_RELOAD_INTERVAL", keysRetire},
	}
}

const settingsNote = `
It reads the same AUTH_* settings as the server (authd -h lists them), from the environment or as
flags: AUTH_DATABASE_URL names the database, which the server creates on first start (this command
creates none).
`

// adminFlags is a command's flag set, with the server's settings (not listed in its usage).
func adminFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *bool) {
	fs := flag.NewFlagSet("authd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "")
	fs.Usage = func() { fmt.Fprint(stderr, usage+settingsNote) }
	return fs, asJSON
}

// parseArgs parses flags anywhere among args (authd users show ID -json) and returns the
// other arguments, which must number want. An argument that starts with "-" but names no flag
// of fs is one of the others: key ids are base64url, and may start with "-".
func parseArgs(fs *flag.FlagSet, args []string, want int, what string) ([]string, error) {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if !strings.HasPrefix(a, "-") || (f == nil && name != "h" && name != "help") {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		if f != nil && !hasValue && !isBoolFlag(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i]) // the flag's value
		}
	}
	if err := parseFlags(fs, flags); err != nil {
		return nil, err
	}
	if len(rest) != want {
		if want == 0 {
			return nil, usageError{msg: fmt.Sprintf("unexpected argument %q: %s -h describes the command", rest[0], fs.Name())}
		}
		return nil, usageError{msg: fmt.Sprintf("want %s: %s -h describes the command", what, fs.Name())}
	}
	return rest, nil
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// openAdmin opens the database as the server does (but creating none) and returns the Service
// over it, with the settings read gives, counting failed sign-ins where the servers do, and a
// function that closes it.
func openAdmin(ctx context.Context, read func() (config, error)) (config, *auth.Service, func(), error) {
	cfg, err := read()
	if err != nil {
		return cfg, nil, nil, err
	}
	store, err := openStore(ctx, cfg, true)
	if err != nil {
		return cfg, nil, nil, err
	}
	closers := []func() error{store.Close}
	done := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	lim := limiters{failures: store.Limiter(nil)}
	if cfg.RedisURL != "" {
		redis, err := ratelimit.NewRedis(cfg.RedisURL, slog.New(slog.DiscardHandler))
		if err != nil {
			done()
			return cfg, nil, nil, fmt.Errorf("AUTH_REDIS_URL: %w", err)
		}
		closers = append(closers, redis.Close)
		lim.failures = redis.WithFallback(lim.failures)
	}
	svc, err := newService(ctx, cfg, store, lim, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		done()
		return cfg, nil, nil, err
	}
	return cfg, svc, done, nil
}

// adminError is err as one line for the operator.
func adminError(err error, what string) error {
	var v auth.ValidationError
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return fmt.Errorf("no %s", what)
	case errors.As(err, &v):
		var fields []string
		for f := range v {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		var parts []string
		for _, f := range fields {
			parts = append(parts, f+": "+strings.Join(v[f], " "))
		}
		return errors.New(strings.Join(parts, "; "))
	}
	return err
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func printUser(w io.Writer, u auth.UserRecord) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	phone := u.Phone
	if phone == "" {
		phone = "-"
	}
	social := strings.Join(u.Social, ", ")
	if social == "" {
		social = "-"
	}
	for _, row := range [][2]string{
		{"id", u.ID}, {"email", u.Email}, {"name", strings.TrimSpace(u.FirstName + " " + u.LastName)}, {"phone", phone},
		{"address", strings.ReplaceAll(u.Address, "\n", ", ")}, {"active", fmt.Sprint(u.Active)}, {"email verified", fmt.Sprint(u.EmailVerified)},
		{"password", map[bool]string{true: "set", false: "none"}[u.PasswordHash != ""]}, {"two-factor", map[bool]string{true: "on", false: "off"}[u.TOTPEnabled]},
		{"social", social}, {"joined", when(u.DateJoined)}, {"last login", when(u.LastLogin)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	tw.Flush()
}

// usersList is `authd users list`.
func usersList(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs, asJSON := adminFlags("users list", `Usage: authd users list [-search text] [-limit n] [-cursor c] [-json]

Lists accounts in the order they joined, a page at a time; the last line says how to ask for the
next page. Accounts added meanwhile never make one skipped or shown twice.

  -search text   only accounts whose email or name holds text (case-insensitive)
  -limit n       accounts per page, 1 to 100 (default 50)
  -cursor c      the page after the one that printed c
  -json          print {"results": [...], "next": "<cursor>"|null}, as GET /admin/users answers
`, stderr)
	search := fs.String("search", "", "")
	limit := fs.String("limit", "", "")
	cursor := fs.String("cursor", "", "")
	read := settingFlags(fs, env)
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	_, svc, done, err := openAdmin(ctx, read)
	if err != nil {
		return err
	}
	defer done()
	page, err := svc.AdminListUsers(ctx, auth.UserListRequest{Search: *search, Limit: *limit, Cursor: *cursor})
	if err != nil {
		return adminError(err, "page")
	}
	if *asJSON {
		out := struct {
			Results []httpapi.AdminUser `json:"results"`
			Next    *string             `json:"next"`
		}{Results: []httpapi.AdminUser{}}
		for _, u := range page.Users {
			out.Results = append(out.Results, httpapi.AdminUserOf(u))
		}
		if page.Next != "" {
			out.Next = &page.Next
		}
		return writeJSONOut(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tACTIVE\tVERIFIED\tJOINED\tLAST LOGIN")
	for _, u := range page.Users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%t\t%s\t%s\n", u.ID, u.Email, strings.TrimSpace(u.FirstName+" "+u.LastName),
			u.Active, u.EmailVerified, when(u.DateJoined), when(u.LastLogin))
	}
	tw.Flush()
	if page.Next != "" {
		fmt.Fprintf(stdout, "more: authd users list -cursor %s\n", page.Next)
	}
	return nil
}

func setActive(active bool) func(context.Context, *auth.Service, string) error {
	return func(ctx context.Context, svc *auth.Service, id string) error {
		_, err := svc.AdminUpdateUser(ctx, id, auth.AdminChange{Active: &active}, nil)
		return err
	}
}

// userCommand is `authd users <verb> ID|EMAIL`: act on the account (nil: only show it), then
// print it.
func userCommand(verb, description string, act func(context.Context, *auth.Service, string) error) func(context.Context, []string, environment, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
		fs, asJSON := adminFlags("users "+verb, fmt.Sprintf(`Usage: authd users %s [-json] ID|EMAIL

%s The account is named by its id or its email (case-insensitive).

  -json   print the account as GET /admin/users/{id} answers
`, verb, description), stderr)
		read := settingFlags(fs, env)
		rest, err := parseArgs(fs, args, 1, "one account, by its id or email")
		if err != nil {
			return err
		}
		cfg, svc, done, err := openAdmin(ctx, read)
		if err != nil {
			return err
		}
		defer done()
		u, err := svc.AdminFindUser(ctx, rest[0])
		if err != nil {
			return adminError(err, fmt.Sprintf("account %q", rest[0]))
		}
		if act != nil {
			if err := act(ctx, svc, u.ID); err != nil {
				return adminError(err, fmt.Sprintf("account %q", rest[0]))
			}
			if verb == "delete" {
				if *asJSON {
					return writeJSONOut(stdout, struct{}{})
				}
				fmt.Fprintf(stdout, "deleted %s (%s)\n", u.ID, u.Email)
				return nil
			}
			if u, err = svc.AdminUserQuiet(ctx, u.ID); err != nil {
				return adminError(err, fmt.Sprintf("account %q", rest[0]))
			}
		}
		if *asJSON {
			return writeJSONOut(stdout, httpapi.AdminUserOf(u))
		}
		if act != nil {
			fmt.Fprintf(stdout, "%s: done\n", verb)
		}
		if verb == "unlock" && cfg.RedisURL == "" {
			// The servers may count in Redis, which this command reached only if told of it.
			fmt.Fprintln(stderr, "unlock: cleared the count kept in the database; servers running with AUTH_REDIS_URL count in Redis: run this with the same AUTH_REDIS_URL to clear that too")
		}
		printUser(stdout, u)
		return nil
	}
}

// usersCreate is `authd users create`.
func usersCreate(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs, asJSON := adminFlags("users create", `Usage: authd users create -email e -first-name f -last-name l -phone p [-address a] [-json]

Creates an account with registration's rules and no password: a code to set one is emailed (by a
running server, which sends what the database's outbox holds).

  -json   print the account as POST /admin/users answers
`, stderr)
	email, first, last := fs.String("email", "", ""), fs.String("first-name", "", ""), fs.String("last-name", "", "")
	phone, address := fs.String("phone", "", ""), fs.String("address", "", "")
	read := settingFlags(fs, env)
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	_, svc, done, err := openAdmin(ctx, read)
	if err != nil {
		return err
	}
	defer done()
	u, err := svc.AdminCreateUser(ctx, auth.Registration{FirstName: strings.TrimSpace(*first), LastName: strings.TrimSpace(*last),
		Address: strings.TrimSpace(*address), Email: strings.TrimSpace(*email), Phone: strings.TrimSpace(*phone)}, nil)
	if err != nil {
		return adminError(err, "account")
	}
	if *asJSON {
		return writeJSONOut(stdout, httpapi.AdminUserOf(u))
	}
	fmt.Fprintf(stdout, "created %s; a code to set its password is emailed to %s\n", u.ID, u.Email)
	return nil
}

type keyJSON struct {
	KID         string  `json:"kid"`
	Kind        string  `json:"kind"`
	Generation  int     `json:"generation"`
	CreatedAt   string  `json:"created_at"`
	ActivatesAt string  `json:"activates_at"`
	RetiredAt   *string `json:"retired_at"`
	State       string  `json:"state"`
}

func keyState(k auth.KeyInfo, now time.Time) string {
	switch {
	case !k.RetiredAt.IsZero():
		return "retired"
	case k.ActivatesAt.After(now):
		return "pending"
	case k.Signing:
		return "signing"
	}
	return "verifying"
}

// keysList is `authd keys list`.
func keysList(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs, asJSON := adminFlags("keys list", `Usage: authd keys list [-json]

Lists the signing keys (access tokens; their public keys are the JWKS) and the refresh keys, newest
first, each with its state: signing (signs new tokens), verifying (checks the tokens it signed),
pending (published, signs from its activation time) or retired (verifies nothing).

  -json   print a JSON list
`, stderr)
	read := settingFlags(fs, env)
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	_, svc, done, err := openAdmin(ctx, read)
	if err != nil {
		return err
	}
	defer done()
	keys, err := svc.Keys(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	if *asJSON {
		out := []keyJSON{}
		for _, k := range keys {
			j := keyJSON{KID: k.ID, Kind: k.Kind, Generation: k.Generation, CreatedAt: when(k.CreatedAt), ActivatesAt: when(k.ActivatesAt), State: keyState(k, now)}
			if !k.RetiredAt.IsZero() {
				r := when(k.RetiredAt)
				j.RetiredAt = &r
			}
			out = append(out, j)
		}
		return writeJSONOut(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tKIND\tGENERATION\tSTATE\tCREATED\tACTIVATES\tRETIRED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", k.ID, k.Kind, k.Generation, keyState(k, now), when(k.CreatedAt), when(k.ActivatesAt), when(k.RetiredAt))
	}
	return tw.Flush()
}

// keysRetire is `authd keys retire KID`.
func keysRetire(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs, _ := adminFlags("keys retire", `Usage: authd keys retire KID

Retires the signing or refresh key KID (authd keys list shows them): running instances refuse the
tokens it signed from their next key reload, within AUTH_KEY_RELOAD_INTERVAL. The only active key
of its kind cannot be retired: rotate first (authd keys rotate) and wait for the new one to sign.
`, stderr)
	read := settingFlags(fs, env)
	rest, err := parseArgs(fs, args, 1, "the kid of the key to retire")
	if err != nil {
		return err
	}
	cfg, svc, done, err := openAdmin(ctx, read)
	if err != nil {
		return err
	}
	defer done()
	k, err := svc.RetireKey(ctx, rest[0], cfg.KeyReloadInterval)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return fmt.Errorf("no key %q: authd keys list shows them", rest[0])
	case errors.Is(err, auth.ErrOnlyActiveKey):
		return fmt.Errorf("%s is the only active %s key every instance signs with: authd keys rotate adds one; retire this one once the new one has signed for AUTH_KEY_RELOAD_INTERVAL (%s here)", rest[0], k.Kind, shortDuration(cfg.KeyReloadInterval))
	case errors.Is(err, auth.ErrKeyRetired):
		return fmt.Errorf("%s was retired at %s", rest[0], when(k.RetiredAt))
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "retired %s key %s: running instances refuse its tokens from their next key reload, within AUTH_KEY_RELOAD_INTERVAL (%s here)\n",
		k.Kind, k.ID, shortDuration(cfg.KeyReloadInterval))
	return nil
}

// auditList is `authd audit`.
func auditList(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs, asJSON := adminFlags("audit", `Usage: authd audit [-user id|email] [-event name] [-since time] [-limit n] [-cursor c] [-json]

Shows the audit log, newest first, a page at a time; the last line says how to ask for the next
page. Events are kept for AUTH_AUDIT_RETENTION.

  -user id|email   only the events of that account (an email names the account that has it now)
  -event name      only events of that name: `+strings.Join(auth.AuditEvents, ", ")+`
  -since time      only events at or after it: an ISO 8601 date or time (2026-03-01, 2026-03-01T12:00:00Z)
  -limit n         events per page, 1 to 100 (default 50)
  -cursor c        the page after the one that printed c
  -json            print {"results": [...], "next": "<cursor>"|null}, as GET /admin/audit answers
`, stderr)
	user, event, since := fs.String("user", "", ""), fs.String("event", "", ""), fs.String("since", "", "")
	limit, cursor := fs.String("limit", "", ""), fs.String("cursor", "", "")
	read := settingFlags(fs, env)
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	_, svc, done, err := openAdmin(ctx, read)
	if err != nil {
		return err
	}
	defer done()
	page, err := svc.AdminAudit(ctx, auth.AuditListRequest{User: *user, Event: *event, Since: *since, Limit: *limit, Cursor: *cursor})
	if err != nil {
		return adminError(err, "page")
	}
	if *asJSON {
		return writeJSONOut(stdout, httpapi.AuditPageOf(page))
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tUSER\tSID\tIP\tREQUEST\tDETAIL")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, ev := range page.Events {
		var detail []string
		for k, v := range ev.Detail {
			detail = append(detail, k+"="+v)
		}
		sort.Strings(detail)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.UTC().Format(time.RFC3339Nano), ev.Event, dash(ev.UserID), dash(ev.SessionID),
			dash(ev.IP), dash(ev.RequestID), dash(strings.Join(detail, " ")))
	}
	tw.Flush()
	if page.Next != "" {
		fmt.Fprintf(stdout, "more: authd audit -cursor %s (with the same filters)\n", page.Next)
	}
	return nil
}
