package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/django"
)

// importDjango is `authd import django FILE|-`: the original service's users, Google links and
// token blacklist, read from `manage.py dumpdata` JSON one record at a time and written in
// batches, each batch in a transaction.
func importDjango(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("authd import django", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "")
	batch := fs.Int("batch", 500, "")
	userModel := fs.String("user-model", "", "")
	read := settingFlags(fs, env)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: authd import django [-dry-run] [-batch n] [-user-model app.model] FILE|-

Imports the original Django service's accounts from the JSON that its `+"`manage.py dumpdata`"+` writes
(FILE, or - for standard input): the user model's records (email, first_name, last_name, address,
phone_no, password, is_active, date_joined, email_verified), social_django.usersocialauth records
of provider google-oauth2, and simplejwt's token_blacklist records. Put the user model's app
before social_django and token_blacklist in the dump (dumpdata follows INSTALLED_APPS, or the
order the apps are named on its command line), so that links find their users.

A user is matched by email (case-insensitive): a second run updates what the first added, never
duplicates it, and never overwrites a password the user has changed here or that was re-hashed
here. Passwords stay in Django's hashes until each user's first sign-in. A record that breaks the
account rules (an invalid or taken email or phone number, say) is skipped and reported with its
pk and reason; a batch is one transaction, so nothing is left half imported.

  -dry-run       read and judge everything, report, and change nothing (the Google links of
                 users the same run would add are then reported as skipped: no such user yet);
                 it needs a database the server (or an import) has made
  -batch n       records per transaction (default 500)
  -user-model m  the user model's label, e.g. accounts.user (default: any model with an email and
                 a password field)

It reads the same AUTH_* settings as the server (authd -h lists them): AUTH_DATABASE_URL names the
database, which it creates and migrates as the server does; AUTH_PHONE_REGION reads national
phone numbers.
`)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{msg: "want one FILE, or - for standard input: authd import django -h describes the command"}
	}
	if *batch < 1 || *batch > 10000 {
		return usageError{msg: fmt.Sprintf("-batch: want 1 to 10000, got %d", *batch)}
	}
	cfg, err := read()
	if err != nil {
		return err
	}
	in, size, err := openDump(fs.Arg(0), env.stdin)
	if err != nil {
		return err
	}
	defer in.Close()
	// A dry run changes nothing, not even by making a database: it needs one the server made.
	store, err := openStore(ctx, cfg, *dryRun)
	if err != nil {
		return err
	}
	defer store.Close()
	svc, err := newService(ctx, cfg, store, limiters{}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	imp := &importer{ctx: ctx, svc: svc, store: store, dryRun: *dryRun, batch: *batch, report: stdout}
	if terminal(stderr) {
		imp.progress, imp.size = stderr, size
	}
	if err := imp.run(django.NewReader(in), *userModel); err != nil {
		return err
	}
	imp.summary()
	svc.LogImport(ctx, imp.users.added, imp.users.updated, imp.users.skipped, *dryRun)
	return nil
}

// openDump opens the dump named on the command line; "-" is stdin (os.Stdin when nil).
func openDump(name string, stdin io.Reader) (io.ReadCloser, int64, error) {
	if name == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		return io.NopCloser(stdin), 0, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, fmt.Errorf("open the dump: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open the dump: %w", err)
	}
	return f, st.Size(), nil
}

// terminal reports whether w is a terminal, where progress is shown.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// tally counts what became of one kind of record.
type tally struct{ added, updated, skipped int }

func (t *tally) count(o auth.ImportOutcome) {
	switch {
	case o.Skipped != "":
		t.skipped++
	case o.Added:
		t.added++
	case o.Updated:
		t.updated++
	}
}

// importer holds a batch of each kind of record until it is full, then writes it.
type importer struct {
	ctx      context.Context
	svc      *auth.Service
	store    auth.ImportStore
	dryRun   bool
	batch    int
	report   io.Writer
	progress io.Writer // nil: not a terminal
	size     int64
	shown    time.Time

	users, social tally
	tokens        int
	ignored       int

	pendingUsers  []auth.ImportedUser
	userPKs       []string
	pendingSocial []auth.ImportedSocial
	socialPKs     []string
	pendingTokens []auth.ImportedToken
	pendingBlack  []auth.ImportedBlacklisting
}

func (im *importer) run(r *django.Reader, userModel string) error {
	for n := 1; ; n++ {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := im.add(rec, userModel); err != nil {
			return err
		}
		if im.progress != nil && n%1000 == 0 && time.Since(im.shown) > 200*time.Millisecond {
			im.shown = time.Now()
			im.showProgress(n, rec.Offset)
		}
	}
	if err := im.flush(); err != nil {
		return err
	}
	if im.progress != nil {
		fmt.Fprint(im.progress, "\r\033[K")
	}
	return nil
}

func (im *importer) showProgress(n int, offset int64) {
	if im.size > 0 {
		fmt.Fprintf(im.progress, "\r%d records read (%d%%)", n, offset*100/im.size)
		return
	}
	fmt.Fprintf(im.progress, "\r%d records read", n)
}

// add files a record under its kind, writing a batch once it is full. Links and tokens wait for
// the users read before them: the users' batch is written first.
func (im *importer) add(rec django.Record, userModel string) error {
	switch {
	case django.IsUser(rec, userModel):
		u, err := django.User(rec)
		if err != nil { // reported as the users skipped by the rules are
			fmt.Fprintf(im.report, "skipped user pk=%s: %s\n", rec.PK, err)
			im.users.skipped++
			return nil
		}
		im.pendingUsers, im.userPKs = append(im.pendingUsers, u), append(im.userPKs, rec.PK)
	case rec.Model == django.ModelSocial:
		s, err := django.Social(rec)
		if err != nil {
			im.skip(rec, err.Error())
			im.social.skipped++
			return nil
		}
		im.pendingSocial, im.socialPKs = append(im.pendingSocial, s), append(im.socialPKs, rec.PK)
	case rec.Model == django.ModelOutstanding:
		t, err := django.Outstanding(rec)
		if err != nil || t.JTI == "" {
			im.skip(rec, fmt.Sprint("unreadable token: ", err))
			return nil
		}
		im.pendingTokens = append(im.pendingTokens, t)
	case rec.Model == django.ModelBlacklisted:
		b, err := django.Blacklisted(rec)
		if err != nil || b.OutstandingPK == "" {
			im.skip(rec, fmt.Sprint("unreadable blacklisting: ", err))
			return nil
		}
		im.pendingBlack = append(im.pendingBlack, b)
	default:
		im.ignored++
		return nil
	}
	if len(im.pendingUsers)+len(im.pendingSocial)+len(im.pendingTokens)+len(im.pendingBlack) >= im.batch {
		return im.flush()
	}
	return nil
}

func (im *importer) skip(rec django.Record, why string) {
	fmt.Fprintf(im.report, "skipped %s pk=%s: %s\n", rec.Model, rec.PK, why)
}

// flush writes what is pending: users first, so that the links and tokens after them find them.
func (im *importer) flush() error {
	if len(im.pendingUsers) > 0 {
		out, err := im.svc.ImportUsers(im.ctx, im.store, im.pendingUsers, im.dryRun)
		if err != nil {
			return err
		}
		for i, o := range out {
			im.users.count(o)
			if o.Skipped != "" {
				fmt.Fprintf(im.report, "skipped user pk=%s: %s\n", im.userPKs[i], o.Skipped)
			}
			if o.Note != "" {
				fmt.Fprintf(im.report, "user pk=%s %s\n", im.userPKs[i], o.Note)
			}
		}
	}
	if len(im.pendingSocial) > 0 {
		out, err := im.svc.ImportSocial(im.ctx, im.store, im.pendingSocial, im.dryRun)
		if err != nil {
			return err
		}
		for i, o := range out {
			im.social.count(o)
			if o.Skipped != "" {
				fmt.Fprintf(im.report, "skipped %s pk=%s: %s\n", django.ModelSocial, im.socialPKs[i], o.Skipped)
			}
		}
	}
	dropped, err := im.svc.ImportTokens(im.ctx, im.store, im.pendingTokens, im.pendingBlack, im.dryRun)
	if err != nil {
		return fmt.Errorf("import tokens: %w", err)
	}
	if dropped > 0 {
		fmt.Fprintf(im.report, "skipped %d token records: %s\n", dropped, auth.SkipBadToken)
	}
	im.tokens += len(im.pendingTokens) + len(im.pendingBlack) - dropped
	im.pendingUsers, im.userPKs, im.pendingSocial, im.socialPKs = im.pendingUsers[:0], im.userPKs[:0], im.pendingSocial[:0], im.socialPKs[:0]
	im.pendingTokens, im.pendingBlack = im.pendingTokens[:0], im.pendingBlack[:0]
	return nil
}

func (im *importer) summary() {
	verb := "imported"
	if im.dryRun {
		verb = "would import (dry run: nothing was changed)"
	}
	fmt.Fprintf(im.report, "users: %d added, %d updated, %d skipped\n", im.users.added, im.users.updated, im.users.skipped)
	fmt.Fprintf(im.report, "google links: %d added, %d updated, %d skipped\n", im.social.added, im.social.updated, im.social.skipped)
	fmt.Fprintf(im.report, "tokens: %d outstanding and blacklist records %s\n", im.tokens, verb)
	if im.ignored > 0 {
		fmt.Fprintf(im.report, "%d records of other models ignored\n", im.ignored)
	}
	if im.dryRun {
		fmt.Fprintln(im.report, "dry run: nothing was changed")
	}
}

// djangoDump is `authd bench django-dump`: a made-up dump of any size, to time an import.
func djangoDump(_ context.Context, args []string, _ environment, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("authd bench django-dump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	users := fs.Int("users", 1_000_000, "")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: authd bench django-dump [-users n]

Writes to standard output a manage.py dumpdata file of n made-up users of a model accounts.user
(each tenth with a Google link and an outstanding refresh token), to time authd import django:

  authd bench django-dump -users 1000000 > dump.json
  /usr/bin/time -v authd import django dump.json

  -users n
      users to write (default 1000000)
`)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *users < 0 || *users > 1e8 {
		return usageError{msg: "authd bench django-dump -h describes the command"}
	}
	return django.WriteSynthetic(stdout, *users)
}
