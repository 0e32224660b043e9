package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/authtest"
)

// sealedPrefix is how a sealed value begins in the database (auth's format, version 1): the
// prefix, a 12-byte nonce, then AES-256-GCM ciphertext and tag, with the row's name as
// associated data.
const sealedPrefix = "sealed:v1:"

const sealedMessage = "key material is sealed: set AUTH_MASTER_KEY to the key that sealed it"

func newMasterKey(t *testing.T) ([]byte, string) {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	return key, base64.StdEncoding.EncodeToString(key)
}

func TestMasterKeySetting(t *testing.T) {
	key, _ := newMasterKey(t)
	key[0], key[1] = 0xfb, 0xff // characters that differ between standard and URL-safe base64
	for name, v := range map[string]string{
		"standard":          base64.StdEncoding.EncodeToString(key),
		"standard unpadded": base64.RawStdEncoding.EncodeToString(key),
		"URL-safe":          base64.URLEncoding.EncodeToString(key),
		"URL-safe unpadded": base64.RawURLEncoding.EncodeToString(key),
		"spaces around":     " " + base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		c, err := loadConfig(nil, envOf(map[string]string{"AUTH_MASTER_KEY": v}), &bytes.Buffer{})
		if err != nil || !bytes.Equal(c.MasterKey, key) {
			t.Errorf("%s: master key %x, %v; want %x", name, c.MasterKey, err, key)
		}
	}
	if c, err := loadConfig(nil, envOf(nil), &bytes.Buffer{}); err != nil || c.MasterKey != nil {
		t.Fatalf("unset: master key %x, %v; want none", c.MasterKey, err)
	}

	rnd := func(n int) []byte { b := make([]byte, n); rand.Read(b); return b }
	for name, v := range map[string]string{
		"not base64":          "this is my master key, keep it!",
		"hex":                 strings.Repeat("3f", 32),
		"16 bytes":            base64.StdEncoding.EncodeToString(rnd(16)),
		"33 bytes":            base64.StdEncoding.EncodeToString(rnd(33)),
		"64 bytes":            base64.StdEncoding.EncodeToString(rnd(64)),
		"all zero":            base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"all one byte":        base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32)),
		"mixed alphabets":     strings.Replace(base64.StdEncoding.EncodeToString(key), "+", "-", 1) + "/",
		"padding in the text": "AAAA=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	} {
		var out bytes.Buffer
		vars := map[string]string{"AUTH_MASTER_KEY": v, "AUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "a.db")}
		err := run(context.Background(), nil, func(k string) string { return vars[k] }, listEnv(vars), &out, &out)
		if err == nil || !strings.HasPrefix(err.Error(), "AUTH_MASTER_KEY: ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line naming AUTH_MASTER_KEY", name, err)
			continue
		}
		if strings.Contains(err.Error(), strings.TrimSpace(v)) || strings.Contains(out.String(), strings.TrimSpace(v)) {
			t.Errorf("%s: the value is shown: %v", name, err)
		}
	}
}

// server is one authd started by run, stopped by the test (or when it ends).
type server struct {
	url  string
	logs *authtest.Buffer
	stop func() error
}

func startAuthd(t *testing.T, env map[string]string) *server {
	t.Helper()
	addr := freeAddr(t)
	vars := map[string]string{"AUTH_ADDR": addr}
	for k, v := range env {
		vars[k] = v
	}
	s := &server{url: "http://" + addr, logs: &authtest.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return vars[k] }, listEnv(vars), s.logs, s.logs) }()
	var once sync.Once
	var err error
	s.stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { s.stop() })
	waitHealthy(t, s.url, s.logs)
	return s
}

// startFails runs authd and returns the error it stops with at once.
func startFails(t *testing.T, env map[string]string, args ...string) error {
	t.Helper()
	vars := map[string]string{"AUTH_ADDR": freeAddr(t)}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out authtest.Buffer
	err := run(ctx, args, func(k string) string { return vars[k] }, listEnv(vars), &out, &out)
	if err == nil {
		t.Fatalf("authd started (or ran %v) with %v", args, env)
	}
	return err
}

// material returns every key and secret as stored, by the name auth seals it under.
func material(t *testing.T, db *sql.DB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for prefix, q := range map[string]string{
		"signing-key:": `SELECT kid, private_key FROM signing_keys`,
		"refresh-key:": `SELECT kid, secret FROM refresh_keys`,
		"secret:":      `SELECT name, value FROM secrets`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name string
			var v []byte
			if err := rows.Scan(&name, &v); err != nil {
				t.Fatal(err)
			}
			out[prefix+name] = v
		}
		rows.Close()
	}
	return out
}

// unseal opens a stored value with the master key, as an operator holding it could: the test's
// own reading of the format, so that what it proves does not rest on authd's code.
func unseal(t *testing.T, master []byte, what string, stored []byte) []byte {
	t.Helper()
	rest, ok := bytes.CutPrefix(stored, []byte(sealedPrefix))
	if !ok {
		t.Fatalf("%s is stored in the clear", what)
	}
	block, _ := aes.NewCipher(master)
	gcm, _ := cipher.NewGCM(block)
	if len(rest) < gcm.NonceSize() {
		t.Fatalf("%s: sealed value too short", what)
	}
	plain, err := gcm.Open(nil, rest[:gcm.NonceSize()], rest[gcm.NonceSize():], []byte(what))
	if err != nil {
		t.Fatalf("%s does not open with the master key for its own row: %v", what, err)
	}
	return plain
}

func openDB(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func signIn(t *testing.T, base, email, password string) (access, refresh string) {
	t.Helper()
	if code, body := post(t, base+"/auth/register/", map[string]string{"first_name": "Ada", "last_name": "Lovelace",
		"email": email, "phone_no": "+442071838770", "password": password}); code != 201 {
		t.Fatalf("register: %d %v", code, body)
	}
	code, pair := post(t, base+"/auth/token/", map[string]string{"email": email, "password": password})
	if code != 200 {
		t.Fatalf("token: %d %v", code, pair)
	}
	return pair["access"].(string), pair["refresh"].(string)
}

// stillWorks checks that tokens issued before a restart verify and refresh after it, and
// returns the refreshed pair.
func stillWorks(t *testing.T, base, access, refresh string) (string, string) {
	t.Helper()
	if code, body := post(t, base+"/auth/token/verify/", map[string]string{"access_token": access}); code != 200 {
		t.Fatalf("verify an access token issued before the restart: %d %v", code, body)
	}
	code, pair := post(t, base+"/auth/token/refresh/", map[string]string{"refresh_token": refresh})
	if code != 200 {
		t.Fatalf("refresh a token issued before the restart: %d %v", code, pair)
	}
	return pair["access"].(string), pair["refresh"].(string)
}

func jwk(t *testing.T, base, kid string) string {
	t.Helper()
	var set struct{ Keys []struct{ Kid, X string } }
	json.Unmarshal([]byte(getBody(t, base+"/.well-known/jwks.json")), &set)
	for _, k := range set.Keys {
		if k.Kid == kid {
			return k.X
		}
	}
	t.Fatalf("kid %s is not published", kid)
	return ""
}

// With a master key, nothing in the database can mint a token, read a queued email or check a
// code: the signing seed, the refresh secret, the code key and the mail key are all sealed, and
// what they open to (with the master key) is what the running service uses.
func TestMasterKeySealsKeyMaterial(t *testing.T) {
	master, encoded := newMasterKey(t)
	dbPath := filepath.Join(t.TempDir(), "authd.db")
	env := map[string]string{"AUTH_DATABASE_URL": "sqlite:" + dbPath, "AUTH_MASTER_KEY": encoded,
		"AUTH_SMTP_URL": "smtp://" + freeAddr(t)} // nothing listens: the reset email stays queued
	a := startAuthd(t, env)
	access, refresh := signIn(t, a.url, "ada@example.com", "the analytical engine")
	if code, _ := post(t, a.url+"/auth/password/reset/", map[string]string{"email": "ada@example.com"}); code != 200 {
		t.Fatalf("reset: %d", code)
	}
	signingX := jwk(t, a.url, kidOf(t, access))
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}

	db := openDB(t, "sqlite", dbPath)
	stored := material(t, db)
	plain := map[string][]byte{}
	for what, v := range stored {
		plain[what] = unseal(t, master, what, v)
	}
	if len(stored) != 4 {
		t.Fatalf("stored material %v: want a signing key, a refresh key and two secrets", keys(stored))
	}
	// The signing seed is the key whose public half the service publishes for its access tokens.
	seed := plain["signing-key:"+kidOf(t, access)]
	if len(seed) != ed25519.SeedSize || base64.RawURLEncoding.EncodeToString(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)) != signingX {
		t.Fatal("the sealed signing key is not the one that signs")
	}
	// The refresh secret is the one that signed the refresh token.
	secret := plain["refresh-key:"+kidOf(t, refresh)]
	parts := strings.Split(refresh, ".")
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) != parts[2] {
		t.Fatal("the sealed refresh secret did not sign the refresh token")
	}
	// The mail key opens the queued reset email, and the code key made the stored code's hash.
	var payload, codeHash []byte
	var codeID string
	if err := db.QueryRow(`SELECT o.payload, c.id, c.code_hash FROM outbox o JOIN reset_codes c ON c.id = o.code_id`).Scan(&payload, &codeID, &codeHash); err != nil {
		t.Fatalf("the queued reset email: %v", err)
	}
	block, _ := aes.NewCipher(plain["secret:outbox-aes-gcm"])
	gcm, _ := cipher.NewGCM(block)
	text, err := gcm.Open(nil, payload[:gcm.NonceSize()], payload[gcm.NonceSize():], nil)
	if err != nil {
		t.Fatalf("the sealed mail key does not open the queued email: %v", err)
	}
	otp := regexp.MustCompile(`\b[0-9]{6}\b`).FindString(string(text))
	mac = hmac.New(sha256.New, plain["secret:reset-code-hmac"])
	mac.Write([]byte(codeID + "\x00" + otp))
	if otp == "" || !hmac.Equal(mac.Sum(nil), codeHash) {
		t.Fatal("the sealed code key did not make the stored code's hash")
	}
	// And none of them is anywhere in the database, as a backup would copy it.
	dump := readDump(t, dbPath)
	for what, v := range plain {
		if bytes.Contains(dump, v) || bytes.Contains(dump, []byte(base64.StdEncoding.EncodeToString(v))) {
			t.Errorf("%s is in the database in the clear", what)
		}
	}

	// The same key: tokens issued before verify and refresh.
	b := startAuthd(t, env)
	access, refresh = stillWorks(t, b.url, access, refresh)
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}

	// keys rotate seals the keys it adds.
	var out authtest.Buffer
	if err := run(context.Background(), []string{"keys", "rotate", "-activate-after", "0s"}, func(k string) string { return env[k] }, listEnv(env), &out, &out); err != nil {
		t.Fatalf("keys rotate: %v", err)
	}
	after := material(t, db)
	if len(after) != 6 {
		t.Fatalf("after a rotation %v: want two keys of each kind", keys(after))
	}
	for what, v := range after {
		unseal(t, master, what, v)
	}

	// No key, or another: authd does not start, and says why in one line.
	_, other := newMasterKey(t)
	for name, key := range map[string]string{"no master key": "", "another master key": other} {
		vars := map[string]string{"AUTH_DATABASE_URL": env["AUTH_DATABASE_URL"], "AUTH_MASTER_KEY": key}
		for _, args := range [][]string{nil, {"keys", "rotate"}} {
			if err := startFails(t, vars, args...); err.Error() != sealedMessage {
				t.Errorf("%s, authd %v: %q, want %q", name, args, err, sealedMessage)
			}
		}
	}
	if got := material(t, db); len(got) != 6 {
		t.Fatalf("a refused start changed the stored material: %v", keys(got))
	}
	c := startAuthd(t, env)
	stillWorks(t, c.url, access, refresh)
}

// An existing database, written without a master key, is sealed by the first start with one:
// once, however many instances start together, and every token issued before keeps working.
func TestFirstStartWithMasterKeySealsExistingDatabase(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "authd.db")
		testSealExisting(t, "sqlite:"+path, 1, func() *sql.DB { return openDB(t, "sqlite", path) })
	})
	t.Run("postgres, three instances at once", func(t *testing.T) {
		pg := authtest.PostgresURL(t)
		testSealExisting(t, pg, 3, func() *sql.DB { return openDB(t, "pgx", pg) })
	})
}

func testSealExisting(t *testing.T, dbURL string, instances int, open func() *sql.DB) {
	smtp := authtest.StartSMTP(t)
	env := map[string]string{"AUTH_DATABASE_URL": dbURL, "AUTH_SMTP_URL": smtp.URL()}
	old := startAuthd(t, env)
	access, refresh := signIn(t, old.url, "grace@example.com", "a ship in harbour")
	if err := old.stop(); err != nil {
		t.Fatal(err)
	}
	db := open()
	before := material(t, db)
	for what, v := range before {
		if bytes.HasPrefix(v, []byte(sealedPrefix)) || len(v) != 32 {
			t.Fatalf("without a master key %s is stored as %d bytes, want its 32 bytes in the clear", what, len(v))
		}
	}

	master, encoded := newMasterKey(t)
	env["AUTH_MASTER_KEY"] = encoded
	nodes := cluster(t, instances, env)
	sealed := 0
	for _, n := range nodes {
		sealed += strings.Count(n.logs.String(), `"event":"key_sealed"`)
	}
	if sealed != len(before) {
		t.Fatalf("%d key_sealed events across %d instances, want one per stored value (%d)", sealed, instances, len(before))
	}
	after := material(t, db)
	if len(after) != len(before) {
		t.Fatalf("material %v after sealing, was %v", keys(after), keys(before))
	}
	for what, v := range after {
		if got := unseal(t, master, what, v); !bytes.Equal(got, before[what]) {
			t.Fatalf("%s sealed to another value", what)
		}
	}
	for _, n := range nodes {
		if code, body := post(t, n.url+"/auth/token/verify/", map[string]string{"access_token": access}); code != 200 {
			t.Fatalf("verify an access token issued before sealing: %d %v", code, body)
		}
	}
	if code, body := post(t, nodes[len(nodes)-1].url+"/auth/token/refresh/", map[string]string{"refresh_token": refresh}); code != 200 {
		t.Fatalf("refresh a token issued before sealing: %d %v", code, body)
	}
	// The code and mail keys are the same ones: a reset code still goes out and checks.
	if code, _ := post(t, nodes[0].url+"/auth/password/reset/", map[string]string{"email": "grace@example.com"}); code != 200 {
		t.Fatalf("reset: %d", code)
	}
	otp := authtest.Code(t, smtp.WaitFor(2)[1]) // after the registration's verification code
	if code, body := post(t, nodes[len(nodes)-1].url+"/auth/password/reset/verify", map[string]string{"email": "grace@example.com", "otp": otp}); code != 200 {
		t.Fatalf("verify the code: %d %v", code, body)
	}
	// From now on the key is needed.
	if err := startFails(t, map[string]string{"AUTH_DATABASE_URL": dbURL}); err.Error() != sealedMessage {
		t.Fatalf("a start without the key: %q, want %q", err, sealedMessage)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// readDump returns the SQLite database's bytes as a backup would copy them, its WAL included.
func readDump(t *testing.T, path string) []byte {
	t.Helper()
	var out []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// A lost master key loses the keys and secrets, never the accounts: deleting the sealed rows
// (docs/deploy.md) lets authd start with a new key and new keys. Every token issued before is
// refused, and people sign in again with their passwords.
func TestLostMasterKeyMeansNewKeys(t *testing.T) {
	_, lost := newMasterKey(t)
	dbPath := filepath.Join(t.TempDir(), "authd.db")
	env := map[string]string{"AUTH_DATABASE_URL": "sqlite:" + dbPath, "AUTH_MASTER_KEY": lost}
	a := startAuthd(t, env)
	const password = "the key is gone"
	access, refresh := signIn(t, a.url, "ada@example.com", password)
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, "sqlite", dbPath)
	for _, table := range []string{"signing_keys", "refresh_keys", "secrets"} {
		if _, err := db.Exec(`DELETE FROM ` + table); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	_, env["AUTH_MASTER_KEY"] = newMasterKey(t)
	b := startAuthd(t, env)
	if code, _ := post(t, b.url+"/auth/token/verify/", map[string]string{"access_token": access}); code != 401 {
		t.Fatalf("an access token of the lost keys: %d, want 401", code)
	}
	if code, _ := post(t, b.url+"/auth/token/refresh/", map[string]string{"refresh_token": refresh}); code != 401 {
		t.Fatalf("a refresh token of the lost keys: %d, want 401", code)
	}
	code, pair := post(t, b.url+"/auth/token/", map[string]string{"email": "ada@example.com", "password": password})
	if code != 200 {
		t.Fatalf("sign-in after new keys: %d %v", code, pair)
	}
	if code, _ := post(t, b.url+"/auth/token/verify/", map[string]string{"access_token": pair["access"].(string)}); code != 200 {
		t.Fatalf("verify a new token: %d", code)
	}
}
