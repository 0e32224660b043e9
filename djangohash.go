package auth

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
)

// Django's password hashes, as the original service stored them, are checked at sign-in so that
// moving in loses no one's password; a match is re-hashed with this service's Argon2id. They
// are checked against the password exactly as received: Django never normalised passwords.

// Ceilings refused before any hashing, so that an imported row with absurd parameters cannot
// make a sign-in a denial of service. Argon2 uses the ceilings of this service's own hashes.
const (
	maxPBKDF2Iterations = 2_000_000 // Django 6.0's default is 1,200,000; a check costs under a second here
	minBcryptCost       = bcrypt.MinCost
	maxBcryptCost       = 14                  // Django's default is 12; each step doubles the work (16 took 6 s)
	maxScryptMemory     = 128 << 20           // bytes of 128·N·r, as the ceiling on Argon2's memory
	maxScryptBlockSize  = 32                  // Django's default r is 8; a bigger r also grows a p·128·r buffer
	maxScryptLanes      = 16                  // Django's default p is 1; each lane repeats the whole work
	maxScryptWork       = maxScryptMemory / 2 // of 128·N·r·p: four times Django's default (16 MiB) at most
	bcryptMaxPassword   = 72                  // bytes of a password bcrypt reads; Python's bcrypt drops the rest
	maxDjangoArgon2Time = 4                   // passes; Django's default is 2 (10 at 128 MiB took 3 s)
)

// djangoHash is a Django password hash whose parameters are within the ceilings.
type djangoHash interface {
	// matches reports, in constant time, whether password (as received) is the one hashed.
	matches(password string) bool
}

// parseDjangoHash reads a Django password hash, and returns errBadHash for an unusable one
// (Django's "!" passwords among them), a malformed one, an encoding it does not know, or
// parameters above the ceilings. It does no hashing.
func parseDjangoHash(encoded string) (djangoHash, error) {
	algorithm, rest, _ := strings.Cut(encoded, "$")
	switch algorithm {
	case "pbkdf2_sha256":
		return parsePBKDF2(encoded, rest, sha256.New, sha256.Size)
	case "pbkdf2_sha1":
		return parsePBKDF2(encoded, rest, sha1.New, sha1.Size)
	case "argon2":
		return parseDjangoArgon2(rest)
	case "bcrypt_sha256":
		return parseDjangoBcrypt(rest, true)
	case "bcrypt":
		return parseDjangoBcrypt(rest, false)
	case "scrypt":
		return parseDjangoScrypt(encoded, rest)
	}
	return nil, errBadHash
}

// djangoNumber reads a decimal field as Django writes it (%d): digits only, no sign, no leading
// zero, and no more than max. Django compares the whole re-encoded string, so any other spelling
// of a number could never have matched there.
func djangoNumber(s string, max int) (int, bool) {
	if s == "" || len(s) > 10 || (s[0] == '0' && s != "0") {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n <= max
}

// djangoSalt reports whether s is a salt Django could have written: not empty, and no "$".
func djangoSalt(s string) bool { return s != "" && !strings.Contains(s, "$") }

// pbkdf2Hash is Django's pbkdf2_sha256$<iterations>$<salt>$<base64 hash> (or pbkdf2_sha1).
type pbkdf2Hash struct {
	encoded    string
	algorithm  string
	digest     func() hash.Hash
	size       int
	iterations int
	salt       string
}

func parsePBKDF2(encoded, rest string, digest func() hash.Hash, size int) (djangoHash, error) {
	fields := strings.Split(rest, "$")
	if len(fields) != 3 || !djangoSalt(fields[1]) {
		return nil, errBadHash
	}
	iterations, ok := djangoNumber(fields[0], maxPBKDF2Iterations)
	if !ok || iterations < 1 {
		return nil, errBadHash
	}
	if key, err := base64.StdEncoding.Strict().DecodeString(fields[2]); err != nil || len(key) != size {
		return nil, errBadHash
	}
	algorithm, _, _ := strings.Cut(encoded, "$")
	return pbkdf2Hash{encoded, algorithm, digest, size, iterations, fields[1]}, nil
}

// matches re-encodes the password as Django's verify does and compares the whole string.
func (h pbkdf2Hash) matches(password string) bool {
	// The standard library's PBKDF2, which golang.org/x/crypto/pbkdf2 wraps, returns the error
	// (FIPS 140-only mode refusing a short salt) that the wrapper would panic with.
	key, err := pbkdf2.Key(h.digest, password, []byte(h.salt), h.iterations, h.size)
	if err != nil {
		return false
	}
	again := fmt.Sprintf("%s$%d$%s$%s", h.algorithm, h.iterations, h.salt, base64.StdEncoding.EncodeToString(key))
	return subtle.ConstantTimeCompare([]byte(again), []byte(h.encoded)) == 1
}

// argon2Hash is Django's argon2$argon2id$v=19$m=..,t=..,p=..$salt$hash, or the older argon2i.
type argon2Hash struct {
	id        bool
	params    HashParams
	salt, key []byte
}

func parseDjangoArgon2(rest string) (djangoHash, error) {
	// Django stores argon2-cffi's PHC string after "argon2"; its variants are argon2id and the
	// argon2i of Django before 3.2. A string without "v=19" (Argon2 1.0) is refused: x/crypto
	// computes only version 1.3.
	fields := strings.Split(rest, "$")
	if len(fields) != 5 || fields[1] != "v=19" || (fields[0] != "argon2id" && fields[0] != "argon2i") {
		return nil, errBadHash
	}
	mtp := strings.Split(fields[2], ",")
	if len(mtp) != 3 || !strings.HasPrefix(mtp[0], "m=") || !strings.HasPrefix(mtp[1], "t=") || !strings.HasPrefix(mtp[2], "p=") {
		return nil, errBadHash
	}
	m, okM := djangoNumber(mtp[0][2:], maxHashMemory)
	t, okT := djangoNumber(mtp[1][2:], maxDjangoArgon2Time)
	threads, okP := djangoNumber(mtp[2][2:], maxHashThreads)
	// Argon2 needs 8 KiB a lane: argon2-cffi refuses less, so no such hash was ever made.
	if !okM || !okT || !okP || t < 1 || threads < 1 || m < 8*threads {
		return nil, errBadHash
	}
	p := HashParams{Memory: uint32(m), Time: uint32(t), Threads: uint8(threads)}
	// libargon2 decodes strictly, without padding, as RawStdEncoding.Strict does.
	b64 := base64.RawStdEncoding.Strict()
	salt, err1 := b64.DecodeString(fields[3])
	key, err2 := b64.DecodeString(fields[4])
	// The lengths this service accepts of its own hashes; argon2-cffi's defaults are 16 and 16.
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return nil, errBadHash
	}
	return argon2Hash{id: fields[0] == "argon2id", params: p, salt: salt, key: key}, nil
}

func (h argon2Hash) matches(password string) bool {
	derive := argon2.Key
	if h.id {
		derive = argon2.IDKey
	}
	got := derive([]byte(password), h.salt, h.params.Time, h.params.Memory, h.params.Threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// bcryptHash is Django's bcrypt$$2b$<cost>$<salt and hash>, or bcrypt_sha256$$2b$..., which
// hashes the lowercase hex SHA-256 digest of the password instead of the password.
type bcryptHash struct {
	sha256 bool
	hash   []byte // the $2b$... part, as bcrypt reads it
}

func parseDjangoBcrypt(rest string, sha bool) (djangoHash, error) {
	// "$2b$12$" then 22 characters of salt and 31 of hash, as Python's bcrypt writes it.
	if len(rest) != 60 || !strings.HasPrefix(rest, "$2") || rest[3] != '$' || rest[6] != '$' {
		return nil, errBadHash
	}
	switch rest[2] {
	case 'a', 'b', 'y': // $2x$ (crypt_blowfish's buggy mode) Python's bcrypt never made
	default:
		return nil, errBadHash
	}
	cost, ok := djangoNumber(strings.TrimPrefix(rest[4:6], "0"), maxBcryptCost)
	if !ok || cost < minBcryptCost {
		return nil, errBadHash
	}
	for i := 7; i < len(rest); i++ {
		if !isBcryptBase64(rest[i]) {
			return nil, errBadHash
		}
	}
	if got, err := bcrypt.Cost([]byte(rest)); err != nil || got != cost {
		return nil, errBadHash
	}
	return bcryptHash{sha256: sha, hash: []byte(rest)}, nil
}

func isBcryptBase64(c byte) bool {
	return c == '.' || c == '/' || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
}

func (h bcryptHash) matches(password string) bool {
	secret := []byte(password)
	if h.sha256 {
		sum := sha256.Sum256(secret)
		secret = []byte(hex.EncodeToString(sum[:]))
	} else if bytes.IndexByte(secret, 0) >= 0 {
		// Python's bcrypt refuses a NUL (Django then failed the sign-in), and C bcrypt would stop
		// reading at it, so no stored hash is of a password with one.
		return false
	} else if len(secret) > bcryptMaxPassword {
		// Python's bcrypt hashes only the first 72 bytes, whatever the prefix, so Django accepted
		// any password sharing them; truncating here says so rather than leaving it to x/crypto.
		secret = secret[:bcryptMaxPassword]
	}
	// CompareHashAndPassword compares in constant time.
	return bcrypt.CompareHashAndPassword(h.hash, secret) == nil
}

// scryptHash is Django 4.0's scrypt$<N>$<salt>$<r>$<p>$<base64 hash>, a 64-byte key.
type scryptHash struct {
	encoded string
	n, r, p int
	salt    string
}

const scryptKeyLength = 64 // Django's dklen

func parseDjangoScrypt(encoded, rest string) (djangoHash, error) {
	fields := strings.Split(rest, "$")
	if len(fields) != 5 || !djangoSalt(fields[1]) {
		return nil, errBadHash
	}
	n, okN := djangoNumber(fields[0], maxScryptMemory/128)
	r, okR := djangoNumber(fields[2], maxScryptBlockSize)
	p, okP := djangoNumber(fields[3], maxScryptLanes)
	if !okN || !okR || !okP || n < 2 || n&(n-1) != 0 || r < 1 || p < 1 {
		return nil, errBadHash
	}
	if memory := 128 * uint64(n) * uint64(r); memory > maxScryptMemory || memory*uint64(p) > maxScryptWork {
		return nil, errBadHash
	}
	if key, err := base64.StdEncoding.Strict().DecodeString(fields[4]); err != nil || len(key) != scryptKeyLength {
		return nil, errBadHash
	}
	return scryptHash{encoded: encoded, n: n, r: r, p: p, salt: fields[1]}, nil
}

// matches re-encodes the password as Django's verify does and compares the whole string.
func (h scryptHash) matches(password string) bool {
	key, err := scrypt.Key([]byte(password), []byte(h.salt), h.n, h.r, h.p, scryptKeyLength)
	if err != nil {
		return false
	}
	again := fmt.Sprintf("scrypt$%d$%s$%d$%d$%s", h.n, h.salt, h.r, h.p, base64.StdEncoding.EncodeToString(key))
	return subtle.ConstantTimeCompare([]byte(again), []byte(h.encoded)) == 1
}

// UsableDjangoHash reports whether encoded is a Django password hash this service can check:
// a known encoding with parameters within the ceilings. Django's unusable ("!") passwords and
// anything else are not.
func UsableDjangoHash(encoded string) bool {
	_, err := parseDjangoHash(encoded)
	return err == nil
}
