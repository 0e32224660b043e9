package auth

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// djangoPython is Debian's Python, which has Django 3.2, argon2-cffi and bcrypt (a pyenv python3
// on PATH may have none of them).
const djangoPython = "/usr/bin/python3"

type djangoProbe struct {
	Password string `json:"password"`
	Django   bool   `json:"django"` // Django's check_password verdict
}

type djangoItem struct {
	Hasher   string        `json:"hasher"`
	Password string        `json:"password"`
	Encoded  string        `json:"encoded"`
	Probes   []djangoProbe `json:"probes"`
}

// djangoMade runs testdata/django/hashes.py and returns the hashes the real Django made. It skips
// the test when that Python or one of its libraries is missing.
func djangoMade(t *testing.T) []djangoItem {
	t.Helper()
	if _, err := os.Stat(djangoPython); err != nil {
		t.Skipf("no %s: hashes made by Django need Debian's python3 with python3-django, python3-argon2 and python3-bcrypt", djangoPython)
	}
	if out, err := exec.Command(djangoPython, "-c", "import django, argon2, bcrypt").CombinedOutput(); err != nil {
		t.Skipf("%s lacks Django or its hashers (install python3-django, python3-argon2, python3-bcrypt): %s", djangoPython, strings.TrimSpace(string(out)))
	}
	cmd := exec.Command(djangoPython, "testdata/django/hashes.py")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("testdata/django/hashes.py: %v", err)
	}
	var items []djangoItem
	if err := json.Unmarshal(out, &items); err != nil {
		t.Fatalf("testdata/django/hashes.py printed no JSON: %v", err)
	}
	return items
}

func TestDjangoHashesMadeByDjango(t *testing.T) {
	items := djangoMade(t)
	hashers := map[string]int{}
	for _, it := range items {
		hashers[it.Hasher]++
	}
	for _, name := range []string{"pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "bcrypt", "scrypt"} {
		if hashers[name] == 0 {
			t.Errorf("the script made no %s hash", name)
		}
	}
	h := NewHasher(DefaultHashParams, 4, time.Minute)
	ctx := context.Background()
	for i, it := range items {
		t.Run(it.Hasher+"/"+strings.SplitN(it.Encoded, "$", 3)[1]+"/"+string(rune('a'+i%26)), func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := h.Check(ctx, it.Encoded, it.Password)
			if err != nil || !ok || !rehash {
				t.Errorf("Check(%q, %q) = %v, %v, %v; want true, true, nil", it.Encoded, it.Password, ok, rehash, err)
			}
			if ok, _, _ := h.Check(ctx, it.Encoded, "#"+it.Password); ok {
				t.Errorf("Check(%q) matched a wrong password", it.Encoded)
			}
			// The probes (a changed character, upper case, the NFKC form, a 72-byte prefix)
			// must get Django's own verdict.
			for _, p := range it.Probes {
				if ok, _, _ := h.Check(ctx, it.Encoded, p.Password); ok != p.Django {
					t.Errorf("Check(%q, %q) = %v; Django said %v", it.Encoded, p.Password, ok, p.Django)
				}
			}
		})
	}
}

// djangoKnown are hashes the real Django 3.2 made (scrypt: Django 4.0's encoding, by
// hashlib.scrypt; see testdata/django/hashes.py) at small costs, so that these tests run
// without Python.
var djangoKnown = []struct{ password, encoded string }{
	{"ﬁnancial pässword", "pbkdf2_sha256$1000$cCJlZ35IiDQYQSLiDMsaHP$8upAyggte+bhmNTPzxOHTCxwyZ2eWWryMSM4YhlW7iI="},
	{"ﬁnancial pässword", "pbkdf2_sha1$1000$uzdMQmplMrlcUvRAfRvSIR$NY0lF6g7nK1tAsvBpEeEJxwKiIY="},
	{"ﬁnancial pässword", "argon2$argon2id$v=19$m=1024,t=1,p=2$TW1idEgySU03ZzJOeXR3eElXQk5OSQ$OWZCpSfxRviiheigfx5y3w"},
	{"ﬁnancial pässword", "argon2$argon2i$v=19$m=1024,t=1,p=2$RkFMdlNmbXZZTEpQSkh6cjE5VGhvTg$IItTbpqQNz3sPV10EMnU8w"},
	{"ﬁnancial pässword", "bcrypt_sha256$$2b$04$Dd9mNamasVS8jtJlVD1POuuHDSw5qXQgMhkhQhj7xrxb8I6IRYNi2"},
	{"ﬁnancial pässword", "bcrypt$$2b$04$f/1Eur9CXqaa9uZN80eeu.3YnmWOwp2a9qoGWOYQXM5CaNqqNOS3a"},
	{strings.Repeat("x", 72) + "tail that bcrypt never sees" + strings.Repeat("é", 10), "bcrypt$$2b$04$sK2IU2rwzA1RkCsz.d6srueyxzXXpoJlpRkI7qXDEQal5BZYNO8EO"},
	{"ﬁnancial pässword", "scrypt$16$KFFJuUN1LMjucT80SPFGRu$8$1$Yi4utTNwS6xZ997XO30JExOi0n1TVvvaRN4Qf29JM5ynSLONM+S6SicHnPcaId/Q5dc5Mx2IsXTVABxQpDn98A=="},
}

func TestDjangoHashKnown(t *testing.T) {
	h := NewHasher(DefaultHashParams, 1, time.Minute)
	ctx := context.Background()
	for _, k := range djangoKnown {
		name, _, _ := strings.Cut(k.encoded, "$")
		t.Run(name, func(t *testing.T) {
			if ok, rehash, err := h.Check(ctx, k.encoded, k.password); err != nil || !ok || !rehash {
				t.Errorf("Check(right password) = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			// Django hashed the bytes as typed: the NFKC form ("financial") is another password.
			if ok, _, _ := h.Check(ctx, k.encoded, normalizePassword(k.password)); ok && normalizePassword(k.password) != k.password {
				t.Errorf("Check(NFKC form) matched; Django did not normalise")
			}
			if ok, _, _ := h.Check(ctx, k.encoded, "#"+k.password); ok {
				t.Errorf("Check(wrong password) matched")
			}
		})
	}
}

func TestDjangoBcryptLongPassword(t *testing.T) {
	// Python's bcrypt reads 72 bytes, so Django accepted any password sharing them; a NUL was
	// refused by Python's bcrypt, so it matches nothing.
	const encoded = "bcrypt$$2b$04$sK2IU2rwzA1RkCsz.d6srueyxzXXpoJlpRkI7qXDEQal5BZYNO8EO"
	d, err := parseDjangoHash(encoded)
	if err != nil {
		t.Fatal(err)
	}
	x72 := strings.Repeat("x", 72)
	for password, want := range map[string]bool{
		x72:                          true,
		x72 + "anything":             true,
		x72[:71]:                     false,
		x72[:71] + "y":               false,
		x72 + "\x00":                 false, // Python\'s bcrypt raised before it truncated
		x72[:10] + "\x00" + x72[11:]: false,
	} {
		if got := d.matches(password); got != want {
			t.Errorf("matches(%q) = %v, want %v", password, got, want)
		}
	}
}

func TestDjangoHashRefusedBeforeHashing(t *testing.T) {
	const (
		salt   = "cCJlZ35IiDQYQSLiDMsaHP"
		sha256 = "8upAyggte+bhmNTPzxOHTCxwyZ2eWWryMSM4YhlW7iI="
		scrypt = "Yi4utTNwS6xZ997XO30JExOi0n1TVvvaRN4Qf29JM5ynSLONM+S6SicHnPcaId/Q5dc5Mx2IsXTVABxQpDn98A=="
		a2     = "$TW1idEgySU03ZzJOeXR3eElXQk5OSQ$OWZCpSfxRviiheigfx5y3w"
		bc     = "$f/1Eur9CXqaa9uZN80eeu.3YnmWOwp2a9qoGWOYQXM5CaNqqNOS3a"
	)
	for name, encoded := range map[string]string{
		"pbkdf2 1e9 iterations":      "pbkdf2_sha256$1000000000$" + salt + "$" + sha256,
		"pbkdf2 above the ceiling":   "pbkdf2_sha256$2000001$" + salt + "$" + sha256,
		"pbkdf2 huge number":         "pbkdf2_sha256$99999999999999999999999$" + salt + "$" + sha256,
		"pbkdf2 zero iterations":     "pbkdf2_sha256$0$" + salt + "$" + sha256,
		"pbkdf2 negative":            "pbkdf2_sha256$-1000$" + salt + "$" + sha256,
		"pbkdf2 leading zero":        "pbkdf2_sha256$01000$" + salt + "$" + sha256,
		"pbkdf2 empty salt":          "pbkdf2_sha256$1000$$" + sha256,
		"pbkdf2 bad base64":          "pbkdf2_sha256$1000$" + salt + "$8upAyggte+bhmNTPzxOHTCxw!Z2eWWryMSM4YhlW7iI=",
		"pbkdf2 sha1 length":         "pbkdf2_sha1$1000$" + salt + "$" + sha256,
		"pbkdf2 extra field":         "pbkdf2_sha256$1000$" + salt + "$" + sha256 + "$",
		"pbkdf2 missing field":       "pbkdf2_sha256$1000$" + sha256,
		"bcrypt cost 15":             "bcrypt$$2b$15" + bc,
		"bcrypt cost 17":             "bcrypt$$2b$17" + bc,
		"bcrypt cost 31":             "bcrypt$$2b$31" + bc,
		"bcrypt cost 3":              "bcrypt$$2b$03" + bc,
		"bcrypt 2x":                  "bcrypt$$2x$04" + bc,
		"bcrypt truncated":           "bcrypt$$2b$04" + bc[:40],
		"bcrypt missing $":           "bcrypt$2b$04" + bc,
		"bcrypt bad alphabet":        "bcrypt$$2b$04" + bc[:30] + "+" + bc[31:],
		"bcrypt_sha256 cost 20":      "bcrypt_sha256$$2b$20" + bc,
		"scrypt N not a power of 2":  "scrypt$16385$" + salt + "$8$1$" + scrypt,
		"scrypt N 1":                 "scrypt$1$" + salt + "$8$1$" + scrypt,
		"scrypt 1 GiB":               "scrypt$1048576$" + salt + "$8$1$" + scrypt,
		"scrypt 128 MiB times 2":     "scrypt$131072$" + salt + "$16$1$" + scrypt,
		"scrypt p 17":                "scrypt$16$" + salt + "$8$17$" + scrypt,
		"scrypt past 64 MiB of work": "scrypt$65536$" + salt + "$8$2$" + scrypt,
		"argon2 five passes":         "argon2$argon2id$v=19$m=65536,t=5,p=1$TW1idEgySU03ZzJOeXR3eElXQk5OSQ$OWZCpSfxRviiheigfx5y3w",
		"scrypt work":                "scrypt$131072$" + salt + "$8$3$" + scrypt,
		"scrypt r 0":                 "scrypt$16$" + salt + "$0$1$" + scrypt,
		"scrypt r 33":                "scrypt$16$" + salt + "$33$1$" + scrypt,
		"scrypt short hash":          "scrypt$16$" + salt + "$8$1$" + sha256,
		"argon2 4 GiB":               "argon2$argon2id$v=19$m=4194304,t=1,p=2" + a2,
		"argon2 t 11":                "argon2$argon2id$v=19$m=1024,t=11,p=2" + a2,
		"argon2 p 9":                 "argon2$argon2id$v=19$m=1024,t=1,p=9" + a2,
		"argon2 t 0":                 "argon2$argon2id$v=19$m=1024,t=0,p=2" + a2,
		"argon2 m below 8p":          "argon2$argon2id$v=19$m=15,t=1,p=2" + a2,
		"argon2d":                    "argon2$argon2d$v=19$m=1024,t=1,p=2" + a2,
		"argon2 no version":          "argon2$argon2i$m=1024,t=1,p=2" + a2,
		"argon2 version 16":          "argon2$argon2i$v=16$m=1024,t=1,p=2" + a2,
		"argon2 padded":              "argon2$argon2id$v=19$m=1024,t=1,p=2" + a2 + "==",
		"argon2 params order":        "argon2$argon2id$v=19$t=1,m=1024,p=2" + a2,
		"argon2 without the prefix":  "$argon2id$v=19$m=1024,t=1,p=2" + a2[:len(a2)-1],
		"Django unusable":            "!S7hTKfbqMHx0hbzN4BAT3ZDLpLDvG8FXehJCwDhU",
		"Django unusable of a hash":  "!pbkdf2_sha256$1000$" + salt + "$" + sha256,
		"unknown hasher":             "md5$" + salt + "$5f4dcc3b5aa765d61d8327deb882cf99",
		"empty":                      "",
		"algorithm alone":            "pbkdf2_sha256",
	} {
		t.Run(name, func(t *testing.T) {
			if d, err := parseDjangoHash(encoded); err == nil {
				t.Fatalf("parseDjangoHash(%q) = %#v; want it refused", encoded, d)
			}
		})
	}
	// Through Check, a refused hash is an ordinary mismatch, after the dummy work.
	h := NewHasher(DefaultHashParams, 1, time.Minute)
	if ok, rehash, err := h.Check(context.Background(), "pbkdf2_sha256$1000000000$"+salt+"$"+sha256, "ﬁnancial pässword"); ok || rehash || err != nil {
		t.Errorf("Check(1e9 iterations) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
}

func TestDjangoHashAtTheCeilings(t *testing.T) {
	// The ceilings themselves are accepted (and not run here).
	for _, encoded := range []string{
		"pbkdf2_sha256$2000000$salt$8upAyggte+bhmNTPzxOHTCxwyZ2eWWryMSM4YhlW7iI=",
		"bcrypt$$2b$14$f/1Eur9CXqaa9uZN80eeu.3YnmWOwp2a9qoGWOYQXM5CaNqqNOS3a",
		"scrypt$65536$salt$8$1$Yi4utTNwS6xZ997XO30JExOi0n1TVvvaRN4Qf29JM5ynSLONM+S6SicHnPcaId/Q5dc5Mx2IsXTVABxQpDn98A==",
		"scrypt$16$salt$32$16$Yi4utTNwS6xZ997XO30JExOi0n1TVvvaRN4Qf29JM5ynSLONM+S6SicHnPcaId/Q5dc5Mx2IsXTVABxQpDn98A==",
		"argon2$argon2id$v=19$m=131072,t=4,p=8$TW1idEgySU03ZzJOeXR3eElXQk5OSQ$OWZCpSfxRviiheigfx5y3w",
	} {
		if _, err := parseDjangoHash(encoded); err != nil {
			t.Errorf("parseDjangoHash(%q) refused it", encoded)
		}
	}
}

func TestDjangoHashMalformedNeverMatches(t *testing.T) {
	for _, k := range djangoKnown {
		for n := range len(k.encoded) {
			cut := k.encoded[:n]
			if d, err := parseDjangoHash(cut); err == nil && d.matches(k.password) {
				t.Errorf("%q, truncated to %q, still matches", k.encoded, cut)
			}
		}
	}
}

// FuzzDjangoHash checks that no string makes the parser panic, and that whatever it accepts
// is within the ceilings, and (when cheap enough to run) is checked without panicking.
func FuzzDjangoHash(f *testing.F) {
	for _, k := range djangoKnown {
		f.Add(k.encoded, k.password)
	}
	f.Add("pbkdf2_sha256$1000000000$salt$8upAyggte+bhmNTPzxOHTCxwyZ2eWWryMSM4YhlW7iI=", "")
	f.Add("scrypt$16$s$1$1$Yi4utTNwS6xZ997XO30JExOi0n1TVvvaRN4Qf29JM5ynSLONM+S6SicHnPcaId/Q5dc5Mx2IsXTVABxQpDn98A==", "")
	f.Add("!", "")
	f.Fuzz(func(t *testing.T, encoded, password string) {
		d, err := parseDjangoHash(encoded)
		if err != nil {
			return
		}
		cheap := false
		switch h := d.(type) {
		case pbkdf2Hash:
			if h.iterations < 1 || h.iterations > maxPBKDF2Iterations {
				t.Fatalf("%q: %d iterations accepted", encoded, h.iterations)
			}
			cheap = h.iterations <= 2000
		case argon2Hash:
			p := h.params
			if p.Memory > maxHashMemory || p.Time < 1 || p.Time > maxHashTime || p.Threads < 1 || p.Threads > maxHashThreads {
				t.Fatalf("%q: %+v accepted", encoded, p)
			}
			cheap = p.Memory <= 2048 && p.Time <= 2
		case bcryptHash:
			cost, err := bcrypt.Cost(h.hash)
			if err != nil || cost < minBcryptCost || cost > maxBcryptCost {
				t.Fatalf("%q: cost %d (%v) accepted", encoded, cost, err)
			}
			cheap = cost <= 5
		case scryptHash:
			if h.n < 2 || h.n&(h.n-1) != 0 || 128*h.n*h.r > maxScryptMemory || h.r > maxScryptBlockSize || h.p > maxScryptLanes || 128*h.n*h.r*h.p > maxScryptWork {
				t.Fatalf("%q: N=%d r=%d p=%d accepted", encoded, h.n, h.r, h.p)
			}
			cheap = h.n*h.r*h.p <= 1<<12
		default:
			t.Fatalf("%q: unknown hash type %T", encoded, d)
		}
		if cheap {
			d.matches(password)
		}
	})
}
