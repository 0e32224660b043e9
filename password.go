package auth

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// commonPasswords is Django's list of 20,000 common passwords (BSD licence, from
// django/contrib/auth/common-passwords.txt.gz), lower-cased, one a line.
//
//go:embed common-passwords.txt.gz
var commonPasswordsGz []byte

var commonPasswords = func() map[string]struct{} {
	r, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		panic("auth: embedded common password list: " + err.Error())
	}
	set := make(map[string]struct{}, 20000)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		set[strings.TrimSpace(sc.Text())] = struct{}{}
	}
	if sc.Err() != nil || len(set) < 1000 {
		panic("auth: embedded common password list is damaged")
	}
	return set
}()

// normalizePassword is the one form of a password that the rules judge and hashes are made of:
// NFKC (NIST SP 800-63B 5.1.1.2). Judging one form and hashing another would let "ｐａｓｓｗｏｒｄ１２３"
// pass the common-password rule and then sign in as "password123".
func normalizePassword(password string) string { return norm.NFKC.String(password) }

// passwordProblems applies Django's default validators, in Django's order, to the normalised
// form of a password for an account with the given names and email, and returns every message
// that applies.
func passwordProblems(password string, minLength int, firstName, lastName, email string) []string {
	var problems []string
	received := utf8.RuneCountInString(password)
	password = normalizePassword(password)
	lower := strings.ToLower(password)
	for _, attr := range []struct{ value, msg string }{
		{firstName, MsgTooSimilarFirst},
		{lastName, MsgTooSimilarLast},
		{email, MsgTooSimilarEmail},
	} {
		if tooSimilar(lower, attr.value) {
			problems = append(problems, attr.msg)
			break // Django's validator stops at the first similar attribute.
		}
	}
	// Too short as received or once normalised: composing marks shorten a password, and
	// compatibility characters ("ﷺ" is 18 letters) lengthen it.
	if min(received, utf8.RuneCountInString(password)) < minLength {
		problems = append(problems, fmt.Sprintf("This password is too short. It must contain at least %d characters.", minLength))
	}
	if _, common := commonPasswords[strings.TrimSpace(lower)]; common {
		problems = append(problems, MsgTooCommon)
	}
	if isAllDigits(password) {
		problems = append(problems, MsgEntirelyNumeric)
	}
	return problems
}

// maxSimilarity is Django's UserAttributeSimilarityValidator threshold.
const maxSimilarity = 0.7

// tooSimilar reports whether the lower-cased password is too close to the attribute value or one
// of its \W+-separated parts, by difflib's quick_ratio, as Django checks it.
func tooSimilar(password, value string) bool {
	if value == "" {
		return false
	}
	value = strings.ToLower(norm.NFKC.String(value))
	parts := strings.FieldsFunc(value, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '_')
	})
	parts = append(parts, value)
	pw := []rune(password)
	for _, part := range parts {
		p := []rune(part)
		// Django 4.2+ skips values much shorter than the password: they cannot reach the
		// threshold, and skipping them bounds the work a long password causes.
		if len(pw) >= 10*len(p) && float64(len(p)) < maxSimilarity/2*float64(len(pw)) {
			continue
		}
		if quickRatio(pw, p) >= maxSimilarity {
			return true
		}
	}
	return false
}

// quickRatio is difflib.SequenceMatcher.quick_ratio: twice the size of the multiset
// intersection of a and b over their total length.
func quickRatio(a, b []rune) float64 {
	if len(a)+len(b) == 0 {
		return 1
	}
	counts := make(map[rune]int, len(b))
	for _, r := range b {
		counts[r]++
	}
	matches := 0
	for _, r := range a {
		if counts[r] > 0 {
			counts[r]--
			matches++
		}
	}
	return 2 * float64(matches) / float64(len(a)+len(b))
}

func isAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// HashParams are Argon2id parameters. The zero value is not usable; see DefaultHashParams.
type HashParams struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultHashParams is OWASP's Argon2id minimum: 19 MiB, two passes, one lane.
var DefaultHashParams = HashParams{Memory: 19 * 1024, Time: 2, Threads: 1}

// Ceilings refused when reading a stored hash, so a corrupt or hostile row cannot make a sign-in
// allocate gigabytes.
const (
	maxHashMemory  = 128 * 1024
	maxHashTime    = 10
	maxHashThreads = 8
)

const (
	saltLength = 16
	keyLength  = 32
)

// Hasher hashes and checks passwords with Argon2id. At most one hash runs per slot, which bounds
// memory under a flood of sign-ins. A caller that finds every slot taken waits only if the callers
// already waiting can be served within the wait, judged by a running estimate of how long one hash
// takes; otherwise, or once the wait has passed, it gets ErrBusy.
type Hasher struct {
	params HashParams
	slots  chan struct{}
	wait   time.Duration
	dummy  string // a hash of a random password, checked when there is no real one to check

	waiting  atomic.Int64 // callers waiting for a slot
	hashTime atomic.Int64 // nanoseconds a slot is held for one hash: a moving average
}

// hashTimeWeight is the weight of the newest hash in the moving average of hash times: 1/8, so
// the estimate follows a change in load within a few dozen hashes without jumping at one outlier.
const hashTimeWeight = 8

// NewHasher returns a Hasher with the given parameters, slots and longest wait for a slot. It
// seeds its estimate of a hash's time by timing a first hash.
func NewHasher(params HashParams, slots int, wait time.Duration) *Hasher {
	if slots < 1 {
		slots = 1
	}
	h := &Hasher{params: params, slots: make(chan struct{}, slots), wait: wait}
	start := time.Now()
	h.dummy = h.hash(rand.Text())
	h.hashTime.Store(max(1, int64(time.Since(start))))
	return h
}

// queueLimit is how many callers may wait for a slot: as many as the slots can serve within the
// wait, at the estimated time per hash.
func (h *Hasher) queueLimit() int64 {
	return int64(cap(h.slots)) * int64(h.wait) / max(1, h.hashTime.Load())
}

// acquire takes a slot, and returns the time it took it at for release.
func (h *Hasher) acquire(ctx context.Context) (time.Time, error) {
	select {
	case h.slots <- struct{}{}:
		return time.Now(), nil
	default:
	}
	// Joining the queue by compare-and-swap lets no more than the limit wait however many arrive
	// together, and a caller refused never counts as waiting, even for a moment.
	for {
		n := h.waiting.Load()
		if n >= h.queueLimit() {
			return time.Time{}, ErrBusy
		}
		if h.waiting.CompareAndSwap(n, n+1) {
			break
		}
	}
	defer h.waiting.Add(-1)
	timer := time.NewTimer(h.wait) // a backstop, for hashes slower than the estimate
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		return time.Now(), nil
	case <-timer.C:
		return time.Time{}, ErrBusy
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// release frees the slot taken at start, and counts the time it was held into the estimate.
func (h *Hasher) release(start time.Time) {
	took := max(1, int64(time.Since(start)))
	for {
		old := h.hashTime.Load()
		if h.hashTime.CompareAndSwap(old, old+(took-old)/hashTimeWeight) {
			break
		}
	}
	<-h.slots
}

// Hash returns the PHC string of password ($argon2id$v=19$m=..,t=..,p=..$salt$hash) after
// NFKC normalisation. It returns ErrBusy when every hashing slot is taken and it may not wait,
// or no slot frees up within the wait.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	start, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer h.release(start)
	return h.hash(password), nil
}

func (h *Hasher) hash(password string) string {
	salt := make([]byte, saltLength)
	rand.Read(salt)
	key := argon2.IDKey([]byte(normalizePassword(password)), salt, h.params.Time, h.params.Memory, h.params.Threads, keyLength)
	return encodePHC(h.params, salt, key)
}

// Check reports whether password matches the stored PHC hash, or a Django hash moved in from the
// original service, and whether the hash should be replaced: always for a Django hash, and for
// its own when its parameters are below the current ones. An empty or unusable hash spends
// the same work as a real one and never matches. It returns ErrBusy as Hash does.
func (h *Hasher) Check(ctx context.Context, stored, password string) (ok, rehash bool, err error) {
	start, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer h.release(start)
	params, salt, key, err := decodePHC(stored)
	if err != nil {
		if d, err := parseDjangoHash(stored); err == nil {
			// A hash moved in from Django, checked as Django did (see djangohash.go): once it
			// matches, it is replaced with this service's own.
			ok := d.matches(password)
			return ok, ok, nil
		}
		// No usable password, or a damaged row: do the work anyway so timing tells nothing.
		params, salt, key, _ = decodePHC(h.dummy)
		argon2.IDKey([]byte(normalizePassword(password)), salt, params.Time, params.Memory, params.Threads, uint32(len(key)))
		return false, false, nil
	}
	got := argon2.IDKey([]byte(normalizePassword(password)), salt, params.Time, params.Memory, params.Threads, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	rehash = params.Memory < h.params.Memory || params.Time < h.params.Time || params.Threads < h.params.Threads
	return true, rehash, nil
}

var errBadHash = errors.New("unusable password hash")

func encodePHC(p HashParams, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decodePHC(s string) (HashParams, []byte, []byte, error) {
	var p HashParams
	parts := strings.Split(s, "$")
	// parts[0] is empty: Django's "argon2$argon2id$..." is not one of ours (djangohash.go).
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, errBadHash
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil {
		return p, nil, nil, errBadHash
	}
	if p.Memory == 0 || p.Memory > maxHashMemory || p.Time == 0 || p.Time > maxHashTime || threads == 0 || threads > maxHashThreads {
		return p, nil, nil, errBadHash
	}
	p.Threads = uint8(threads)
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}
