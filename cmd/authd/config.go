package main

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	auth "github.com/authd/authd"
	"github.com/authd/authd/google"
)

// config is everything authd reads from its environment and flags. This file is the only place
// that reads either. The Service's rules are read straight into auth.Config, under its names;
// what it does not read keeps auth.DefaultConfig's value.
type config struct {
	auth.Config
	Addr               string
	DatabaseURL        string
	DBMaxConns         int
	DBStatementTimeout time.Duration
	SMTPURL            string
	MailFrom           string
	CORSOrigins        []string
	TrustedProxies     []netip.Prefix
	HashConcurrency    int
	LogLevel           string
	Google             google.Config
	RedisURL           string
	SQLiteSynchronous  string
	ReadHeaderTimeout  time.Duration
	ReadTimeout        time.Duration
	WriteTimeout       time.Duration
	IdleTimeout        time.Duration
	DebugAddr          string
	KeyReloadInterval  time.Duration
	MasterKey          []byte // nil: key material is stored in the clear
	AdminAddr          string // the admin API and metrics listener; "": none
	AdminToken         string // its bearer token: a secret, never printed
	AuditRetention     time.Duration
}

// setting is one variable: its environment name, its flag, its default and how to read it.
type setting struct {
	env, def, usage string
	parse           func(string, *config) error
}

func settings() []setting {
	return []setting{
		{"AUTH_ADDR", "127.0.0.1:8000", "where the HTTP server listens", func(v string, c *config) error { c.Addr = v; return nil }},
		{"AUTH_DATABASE_URL", "sqlite:data/authd.db", "sqlite:<path> or postgres://user:pass@host:5432/db", func(v string, c *config) error {
			sqlitePath := strings.HasPrefix(v, "sqlite:") && strings.TrimPrefix(v, "sqlite:") != ""
			postgresURL := strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://")
			if !sqlitePath && !postgresURL {
				return fmt.Errorf("want sqlite:<path> or postgres://..., got %q", redactURL(v))
			}
			c.DatabaseURL = v
			return nil
		}},
		{"AUTH_SQLITE_SYNCHRONOUS", "full", "full: every acknowledged write survives a power loss; normal: faster commits, survives crashes but not a power loss", func(v string, c *config) error {
			if v != "full" && v != "normal" {
				return fmt.Errorf("want full or normal, got %q", v)
			}
			c.SQLiteSynchronous = v
			return nil
		}},
		{"AUTH_DB_MAX_CONNS", "10", "PostgreSQL connections per instance", intInto(func(c *config) *int { return &c.DBMaxConns }, 1)},
		{"AUTH_DB_STATEMENT_TIMEOUT", "5s", "PostgreSQL cancels a statement running longer", durationInto(func(c *config) *time.Duration { return &c.DBStatementTimeout }, false)},
		{"AUTH_SMTP_URL", "", "smtp://[user:pass@]host:port or smtps://...; unset: emails go to the log", func(v string, c *config) error {
			if v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
					return fmt.Errorf("want smtp://host:port or smtps://host:port, got %q", redactURL(v))
				}
			}
			c.SMTPURL = v
			return nil
		}},
		{"AUTH_MAIL_FROM", "no-reply@localhost", "sender address of emails", func(v string, c *config) error { c.MailFrom = v; return nil }},
		{"AUTH_ISSUER", "authd", "the iss claim of tokens", func(v string, c *config) error { c.Issuer = v; return nil }},
		{"AUTH_AUDIENCE", "", "the aud claim of access tokens, then required at verify; unset: none", func(v string, c *config) error { c.Audience = v; return nil }},
		{"AUTH_ACCESS_TTL", "5m", "access token lifetime", durationInto(func(c *config) *time.Duration { return &c.AccessTTL }, false)},
		{"AUTH_REFRESH_TTL", "24h", "refresh token lifetime", durationInto(func(c *config) *time.Duration { return &c.RefreshTTL }, false)},
		{"AUTH_SESSION_MAX_AGE", "720h", "a sign-in ends this long after it began, however often refreshed; 0: never", durationInto(func(c *config) *time.Duration { return &c.SessionMaxAge }, true)},
		{"AUTH_OTP_TTL", "10m", "lifetime of an emailed code (password reset, email verification, email change)", durationInto(func(c *config) *time.Duration { return &c.CodeTTL }, false)},
		{"AUTH_REFRESH_REUSE_WINDOW", "10s", "how long a used refresh token still returns its successor; 0: strictly single use", durationInto(func(c *config) *time.Duration { return &c.ReuseWindow }, true)},
		{"AUTH_RESET_REVEAL_UNKNOWN", "true", "false: password reset answers 200 for unknown emails too", func(v string, c *config) error {
			b, err := strconv.ParseBool(v)
			c.RevealUnknownEmail = b
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			return nil
		}},
		{"AUTH_EMAIL_VERIFICATION", string(auth.VerificationSend), "send: registration with a password emails a verification code; required: as send, and sign-in with a password refuses an unverified address; off: no email", func(v string, c *config) error {
			switch e := auth.EmailVerification(v); e {
			case auth.VerificationSend, auth.VerificationRequired, auth.VerificationOff:
				c.EmailVerification = e
				return nil
			}
			return fmt.Errorf("want send, required or off, got %q", v)
		}},
		{"AUTH_PHONE_REGION", "", "default region for national phone numbers, e.g. GB", func(v string, c *config) error {
			if v != "" && (len(v) != 2 || strings.ToUpper(v) != v) {
				return fmt.Errorf("want a two-letter region code such as GB, got %q", v)
			}
			c.PhoneRegion = v
			return nil
		}},
		{"AUTH_CORS_ORIGINS", "", "comma-separated origins allowed to call from a browser, e.g. https://app.example.com (scheme, host and port, as browsers send them; one * may stand for a subdomain: https://*.example.com); * allows any origin (no credentials are involved: authd sets no cookies)", func(v string, c *config) error {
			c.CORSOrigins = splitList(v)
			for _, o := range c.CORSOrigins {
				if err := checkOrigin(o); err != nil {
					return err
				}
			}
			return nil
		}},
		{"AUTH_TRUSTED_PROXIES", "", "comma-separated CIDRs whose X-Forwarded-For is believed", func(v string, c *config) error {
			c.TrustedProxies = nil
			for _, s := range splitList(v) {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					a, aerr := netip.ParseAddr(s)
					if aerr != nil {
						return fmt.Errorf("want CIDRs such as 10.0.0.0/8, got %q", s)
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			}
			return nil
		}},
		{"AUTH_LOGIN_FAILURE_LIMIT", "10", "failed sign-ins per email per 15 minutes; 0: off", intInto(func(c *config) *int { return &c.LoginFailureLimit }, 0)},
		{"AUTH_IP_RATE_LIMIT", "60", "credential-endpoint requests per client address per minute; 0: off", intInto(func(c *config) *int { return &c.IPRateLimit }, 0)},
		{"AUTH_RESET_CODE_LIMIT", "5", "emailed codes per email per hour, for each purpose apart (password reset, email verification, email change); 0: off", intInto(func(c *config) *int { return &c.CodesPerHour }, 0)},
		{"AUTH_PASSWORD_MIN_LENGTH", "8", "minimum password length (15 for NIST's single-factor profile)", intInto(func(c *config) *int { return &c.MinPasswordLength }, 1)},
		{"AUTH_HASH_CONCURRENCY", strconv.Itoa(runtime.GOMAXPROCS(0)), "password hashes run at once (each takes 19 MiB); default: the CPUs authd may use, a container's limit included", intInto(func(c *config) *int { return &c.HashConcurrency }, 1)},
		{"AUTH_GOOGLE_CLIENT_ID", "", "Google OAuth client id; unset: Google sign-in answers 404", func(v string, c *config) error { c.Google.ClientID = v; return nil }},
		{"AUTH_GOOGLE_CLIENT_SECRET", "", "Google OAuth client secret (set it in the environment, not as a flag)", func(v string, c *config) error { c.Google.ClientSecret = v; return nil }},
		{"AUTH_GOOGLE_REDIRECT_URL", "postmessage", "redirect URI for the code exchange", func(v string, c *config) error { c.Google.RedirectURL = v; return nil }},
		{"AUTH_GOOGLE_TOKEN_URL", google.TokenURL, "Google's token endpoint", urlInto(func(c *config) *string { return &c.Google.TokenURL })},
		{"AUTH_GOOGLE_USERINFO_URL", google.UserinfoURL, "Google's userinfo endpoint", urlInto(func(c *config) *string { return &c.Google.UserinfoURL })},
		{"AUTH_GOOGLE_JWKS_URL", google.JWKSURL, "Google's signing keys", urlInto(func(c *config) *string { return &c.Google.JWKSURL })},
		{"AUTH_GOOGLE_TOKENINFO_URL", "", "checks which app an access token belongs to; unset: Google's when the userinfo URL is Google's, else no check", urlInto(func(c *config) *string { return &c.Google.TokeninfoURL })},
		{"AUTH_GOOGLE_ISSUER", google.Issuer, "expected iss of ID tokens (accounts.google.com is accepted as well)", func(v string, c *config) error { c.Google.Issuer = v; return nil }},
		{"AUTH_GOOGLE_TIMEOUT", "5s", "longest wait on Google during one sign-in", durationInto(func(c *config) *time.Duration { return &c.Google.Timeout }, false)},
		{"AUTH_REDIS_URL", "", "redis://host:6379/0 shares rate limits between instances; unset: limits are kept in memory", func(v string, c *config) error {
			if v != "" && !strings.HasPrefix(v, "redis://") && !strings.HasPrefix(v, "rediss://") {
				return fmt.Errorf("want redis://host:port/db, got %q", redactURL(v))
			}
			c.RedisURL = v
			return nil
		}},
		{"AUTH_MASTER_KEY", "", "32 random bytes, base64 (openssl rand -base64 32): seals the keys and secrets kept in the database; unset: kept in the clear, for development only (set it in the environment, not as a flag)", func(v string, c *config) error {
			key, err := parseMasterKey(v)
			c.MasterKey = key
			return err
		}},
		{"AUTH_LEGACY_JWT_SECRET", "", "the original Django service's simplejwt signing key (its SECRET_KEY by default): its refresh and access tokens are honoured for imported users; unset: they are not (set it in the environment, not as a flag)", func(v string, c *config) error {
			c.LegacyJWTSecret = nil
			if v != "" {
				c.LegacyJWTSecret = []byte(v)
			}
			return nil
		}},
		{"AUTH_LEGACY_JWT_UNTIL", "", "the original service's tokens are refused from then on: a date (2027-03-01, midnight UTC) or an RFC 3339 time; unset: no end", func(v string, c *config) error {
			t, err := parseUntil(v)
			c.LegacyJWTUntil = t
			return err
		}},
		{"AUTH_KEY_RELOAD_INTERVAL", "1m", "how often each instance picks up signing keys added by authd keys rotate", durationInto(func(c *config) *time.Duration { return &c.KeyReloadInterval }, false)},
		{"AUTH_READ_HEADER_TIMEOUT", "5s", "a client must send its request headers within this", durationInto(func(c *config) *time.Duration { return &c.ReadHeaderTimeout }, false)},
		{"AUTH_READ_TIMEOUT", "15s", "a client must send its whole request within this", durationInto(func(c *config) *time.Duration { return &c.ReadTimeout }, false)},
		{"AUTH_WRITE_TIMEOUT", "30s", "a response must be written within this", durationInto(func(c *config) *time.Duration { return &c.WriteTimeout }, false)},
		{"AUTH_IDLE_TIMEOUT", "60s", "an idle keep-alive connection is closed after this", durationInto(func(c *config) *time.Duration { return &c.IdleTimeout }, false)},
		{"AUTH_DEBUG_ADDR", "", "serve Go's profiler (/debug/pprof/) and runtime counters (/debug/vars) here, e.g. 127.0.0.1:6060; never a public address", func(v string, c *config) error { c.DebugAddr = v; return nil }},
		{"AUTH_ADMIN_ADDR", "", "serve the admin API (/admin/users) and the metrics (/metrics) here, e.g. 127.0.0.1:8001, behind AUTH_ADMIN_TOKEN; never a public address; unset: off", func(v string, c *config) error { c.AdminAddr = v; return nil }},
		{"AUTH_ADMIN_TOKEN", "", "the bearer token of the admin listener, at least 32 characters (openssl rand -base64 32); required with AUTH_ADMIN_ADDR (set it in the environment, not as a flag)", func(v string, c *config) error { c.AdminToken = v; return nil }},
		{"AUTH_AUDIT_RETENTION", "90d", "how long audit events are kept (authd audit, GET /admin/audit): days (90d) or a duration (720h); older ones are purged in small batches", func(v string, c *config) error {
			d, err := parseRetention(v)
			c.AuditRetention = d
			return err
		}},
		{"AUTH_LOG_LEVEL", "info", "debug, info, warn or error", func(v string, c *config) error {
			switch v {
			case "debug", "info", "warn", "error":
				c.LogLevel = v
				return nil
			}
			return fmt.Errorf("want debug, info, warn or error, got %q", v)
		}},
	}
}

// minAdminTokenLength is the shortest AUTH_ADMIN_TOKEN accepted: 32 characters of base64 are
// 192 bits.
const minAdminTokenLength = 32

// flagName is the flag of an environment variable: AUTH_ACCESS_TTL is -access-ttl.
func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "AUTH_")), "_", "-")
}

// environment is what authd is given of its process environment: one variable's value, and the
// list of every variable ("NAME=value", as os.Environ), which the check for misspelled names reads.
type environment struct {
	get  func(string) string
	list func() []string
	// stdin is standard input, os.Stdin when nil (a test gives its own).
	stdin io.Reader
}

// loadConfig reads the server's command line: every setting from its flag, then the environment,
// then its default. A bad value is an error naming the variable.
func loadConfig(args []string, env environment, out io.Writer) (config, error) {
	fs := flag.NewFlagSet("authd", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { usage(out) }
	read := settingFlags(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, usageError{msg: fmt.Sprintf("unexpected argument %q: authd -h lists the commands and settings", fs.Arg(0))}
	}
	return read()
}

// settingFlags defines on fs a flag for every setting, defaulting to its variable, and returns
// the function that reads the settings once fs is parsed. Commands that open the database take
// the server's settings this way.
func settingFlags(fs *flag.FlagSet, env environment) func() (config, error) {
	all := settings()
	values := make([]*string, len(all))
	for i, s := range all {
		v := s.def
		if e := env.get(s.env); e != "" {
			v = e
		}
		values[i] = fs.String(flagName(s.env), v, s.usage)
	}
	return func() (config, error) {
		c := config{Config: auth.DefaultConfig()}
		if err := checkVariables(env.list(), all); err != nil {
			return c, err
		}
		// A setting is named as it was given: its flag if the command line set it, else its
		// variable.
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		name := func(env string) string {
			if given[flagName(env)] {
				return "-" + flagName(env)
			}
			return env
		}
		for i, s := range all {
			if err := s.parse(strings.TrimSpace(*values[i]), &c); err != nil {
				return c, fmt.Errorf("%s: %w", name(s.env), err)
			}
		}
		if c.Google.TokeninfoURL == "" && c.Google.UserinfoURL == google.UserinfoURL {
			c.Google.TokeninfoURL = google.TokeninfoURL
		}
		if c.Google.ClientID != "" && c.Google.ClientSecret == "" {
			return c, fmt.Errorf("AUTH_GOOGLE_CLIENT_SECRET: required with AUTH_GOOGLE_CLIENT_ID")
		}
		if c.AdminAddr != "" && c.AdminToken == "" {
			return c, fmt.Errorf("%s: required with %s", name("AUTH_ADMIN_TOKEN"), name("AUTH_ADMIN_ADDR"))
		}
		if c.AdminAddr != "" && utf8.RuneCountInString(c.AdminToken) < minAdminTokenLength {
			return c, fmt.Errorf("%s: want at least %d characters (openssl rand -base64 32 makes one), got %d", name("AUTH_ADMIN_TOKEN"), minAdminTokenLength, utf8.RuneCountInString(c.AdminToken))
		}
		if c.AccessTTL > c.RefreshTTL {
			return c, fmt.Errorf("%s (%s) is longer than %s (%s): an access token would outlive the refresh token that renews it",
				name("AUTH_ACCESS_TTL"), shortDuration(c.AccessTTL), name("AUTH_REFRESH_TTL"), shortDuration(c.RefreshTTL))
		}
		if c.ReuseWindow >= c.RefreshTTL {
			return c, fmt.Errorf("%s (%s) is not shorter than %s (%s): a used refresh token would never count as reused while it is valid",
				name("AUTH_REFRESH_REUSE_WINDOW"), shortDuration(c.ReuseWindow), name("AUTH_REFRESH_TTL"), shortDuration(c.RefreshTTL))
		}
		return c, nil
	}
}

// printSettings writes every setting with its flag, variable, default and meaning.
func printSettings(out io.Writer) {
	for _, s := range settings() {
		def := s.def
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(out, "  -%s  (%s, default %s)\n      %s\n", flagName(s.env), s.env, def, s.usage)
	}
}

// checkVariables stops a variable named like a setting (AUTH_...) that is none, such as a
// misspelling: one line for them all, each with the setting it was probably meant to be. The test
// suites' own variables (AUTH_TEST_...) are not settings and are let be.
func checkVariables(environ []string, all []setting) error {
	known := map[string]bool{}
	for _, s := range all {
		known[s.env] = true
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "AUTH_") || strings.HasPrefix(name, "AUTH_TEST_") || known[name] {
			continue
		}
		// The nearest name by edit distance; of equals, the one that begins most like it
		// (AUTH_SMTP is AUTH_SMTP_URL cut short, not AUTH_ADDR misspelt). It is suggested only
		// when it is near: a few edits for the part after AUTH_, or the name cut short.
		nearest, best, shared := "", -1, 0
		for _, s := range all {
			d, p := editDistance(name, s.env), commonPrefix(name, s.env)
			if best < 0 || d < best || (d == best && p > shared) {
				nearest, best, shared = s.env, d, p
			}
		}
		if best <= max(2, len(strings.TrimPrefix(name, "AUTH_"))/3) || strings.HasPrefix(nearest, name) {
			unknown = append(unknown, fmt.Sprintf("%s is not a setting (did you mean %s?)", name, nearest))
		} else {
			unknown = append(unknown, name+" is not a setting")
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return errors.New(strings.Join(unknown, "; ") + ": authd -h lists the settings")
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// editDistance is the Levenshtein distance between a and b: the fewest single-character
// insertions, deletions and substitutions that turn one into the other.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// parseMasterKey decodes AUTH_MASTER_KEY: standard or URL-safe base64, padded or not, of a key
// auth.CheckMasterKey accepts. "" is no key. Its errors never show the value.
func parseMasterKey(v string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	const want = "want 32 random bytes in base64 (openssl rand -base64 32 makes one)"
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		key, err := enc.Strict().DecodeString(v)
		if err != nil {
			continue
		}
		if err := auth.CheckMasterKey(key); err != nil {
			return nil, fmt.Errorf("%s: %w", want, err)
		}
		return key, nil
	}
	return nil, errors.New(want + ": not base64")
}

// parseUntil reads a moment given as a date (midnight UTC) or an RFC 3339 time; "" is none.
func parseUntil(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("want a date such as 2027-03-01 or an RFC 3339 time such as 2027-03-01T00:00:00Z, got %q", v)
}

func durationInto(field func(*config) *time.Duration, zeroOK bool) func(string, *config) error {
	return func(v string, c *config) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || (d == 0 && !zeroOK) {
			return fmt.Errorf("want a positive duration such as 90s or 5m, got %q", v)
		}
		*field(c) = d
		return nil
	}
}

// parseRetention parses a number of days (90d) or a Go duration (720h), positive.
func parseRetention(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
		if n > 100*365 {
			err = fmt.Errorf("too long")
		}
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a number of days such as 90d or a duration such as 720h, got %q", v)
	}
	return d, nil
}

// shortDuration is d as an operator writes it: 48h, 5m, 90s (not 48h0m0s).
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func urlInto(field func(*config) *string) func(string, *config) error {
	return func(v string, c *config) error {
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return fmt.Errorf("want an http(s) URL, got %q", redactURL(v))
			}
		}
		*field(c) = v
		return nil
	}
}

func intInto(field func(*config) *int, min int) func(string, *config) error {
	return func(v string, c *config) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return fmt.Errorf("want a whole number of at least %d, got %q", min, v)
		}
		*field(c) = n
		return nil
	}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// passwordParam is a password given as a parameter: ?password=... in a URL, password=... in a
// key=value connection string.
var passwordParam = regexp.MustCompile(`(?i)(password=)('[^']*'|[^&\s]*)`)

// redactURL hides a password in a database, SMTP or Redis URL before it is shown in an error,
// wherever the URL puts it: user:pass@, a password parameter, or a key=value string.
func redactURL(v string) string {
	v = passwordParam.ReplaceAllString(v, "${1}xxxxx")
	if u, err := url.Parse(v); err == nil && u.User != nil {
		return u.Redacted()
	}
	if i := strings.Index(v, "@"); i >= 0 {
		return "…" + v[i:]
	}
	return v
}

// checkOrigin accepts a CORS origin as browsers send it (scheme://host[:port], nothing after)
// with at most one * in the host for a subdomain, or * alone for any origin. "null" is refused:
// it is the origin of sandboxed frames and data: pages of any site.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	scheme, rest, ok := strings.Cut(o, "://")
	host := strings.Replace(rest, "*.", "", 1)
	if !ok || (scheme != "https" && scheme != "http") || rest == "" || strings.ContainsAny(host, "/?#*@ ") {
		return fmt.Errorf("want origins such as https://app.example.com (scheme, host and port; no path or trailing slash; null is never allowed), got %q", o)
	}
	return nil
}
