package auth

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func testKeyring(t *testing.T, master []byte) *keyring {
	t.Helper()
	k, err := newKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyringSealsAndOpens(t *testing.T) {
	k := testKeyring(t, randomBytes(MasterKeySize))
	plain := randomBytes(32)
	sealed := k.seal("signing-key:kid1", plain)
	if !bytes.HasPrefix(sealed, sealedPrefix) || bytes.Contains(sealed, plain) {
		t.Fatalf("sealed value %x: want the prefix and no plain bytes", sealed)
	}
	if again := k.seal("signing-key:kid1", plain); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: the nonce is not fresh")
	}
	got, wasSealed, err := k.open("signing-key:kid1", sealed)
	if err != nil || !wasSealed || !bytes.Equal(got, plain) {
		t.Fatalf("open = %x, %v, %v; want the plain value back", got, wasSealed, err)
	}
}

func TestKeyringRefuses(t *testing.T) {
	master := randomBytes(MasterKeySize)
	k := testKeyring(t, master)
	sealed := k.seal("refresh-key:r1", randomBytes(32))
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	other := bytes.Clone(master)
	other[0] ^= 1
	cases := map[string]struct {
		k      *keyring
		what   string
		stored []byte
	}{
		"no master key":            {testKeyring(t, nil), "refresh-key:r1", sealed},
		"another master key":       {testKeyring(t, other), "refresh-key:r1", sealed},
		"another row's value":      {k, "refresh-key:r2", sealed},
		"another kind of material": {k, "signing-key:r1", sealed},
		"a flipped nonce bit":      {k, "refresh-key:r1", flip(len(sealedPrefix))},
		"a flipped ciphertext bit": {k, "refresh-key:r1", flip(len(sealedPrefix) + 12)},
		"a flipped tag bit":        {k, "refresh-key:r1", flip(len(sealed) - 1)},
		"cut short":                {k, "refresh-key:r1", sealed[:len(sealedPrefix)+20]},
		"nothing after the prefix": {k, "refresh-key:r1", sealedPrefix},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, wasSealed, err := c.k.open(c.what, c.stored)
			if !errors.Is(err, ErrSealed) || !wasSealed || got != nil {
				t.Fatalf("open = %x, %v, %v; want ErrSealed", got, wasSealed, err)
			}
		})
	}
}

// A database written without a master key holds its material as is: it is read as plain, with
// a key or without, so the first start with a key can seal it.
func TestKeyringPassesUnsealedValues(t *testing.T) {
	plain := randomBytes(32)
	for name, k := range map[string]*keyring{"no master key": testKeyring(t, nil), "a master key": testKeyring(t, randomBytes(MasterKeySize))} {
		got, wasSealed, err := k.open("secret:outbox-aes-gcm", plain)
		if err != nil || wasSealed || !bytes.Equal(got, plain) {
			t.Fatalf("%s: open of an unsealed value = %x, %v, %v", name, got, wasSealed, err)
		}
	}
	if got := testKeyring(t, nil).seal("secret:x", plain); !bytes.Equal(got, plain) {
		t.Fatal("without a master key a value is stored as it is")
	}
}

func TestCheckMasterKey(t *testing.T) {
	if err := CheckMasterKey(randomBytes(MasterKeySize)); err != nil {
		t.Fatalf("a random key: %v", err)
	}
	for name, key := range map[string][]byte{
		"16 bytes":     randomBytes(16),
		"33 bytes":     randomBytes(33),
		"none":         nil,
		"all zero":     make([]byte, MasterKeySize),
		"all one byte": bytes.Repeat([]byte{'A'}, MasterKeySize),
	} {
		err := CheckMasterKey(key)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if len(key) > 0 && strings.Contains(err.Error(), string(key)) {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
		if _, err := newKeyring(key); err == nil && key != nil {
			t.Errorf("%s: newKeyring accepted it", name)
		}
	}
}

// A stored key carries its material sealed for its own kid, and opens back to the same key.
func TestStoredKeysAreSealedForTheirKid(t *testing.T) {
	k := testKeyring(t, randomBytes(MasterKeySize))
	sk := NewSigningKey(1, time.Unix(1_800_000_000, 0))
	st := k.storedSigningKey(sk)
	if st.ID != sk.ID || st.Generation != 1 || bytes.Contains(st.Material, sk.Private.Seed()) {
		t.Fatalf("stored signing key %+v", st)
	}
	if seed, _, err := k.open(signingKeyLabel(sk.ID), st.Material); err != nil || !bytes.Equal(seed, sk.Private.Seed()) {
		t.Fatalf("open stored signing key: %v", err)
	}
	r := NewRefreshKey(1, time.Unix(1_800_000_000, 0))
	sr := k.storedRefreshKey(r)
	if bytes.Contains(sr.Material, r.Secret) {
		t.Fatal("refresh secret stored in the clear")
	}
	if _, _, err := k.open(refreshKeyLabel(sk.ID), sr.Material); !errors.Is(err, ErrSealed) {
		t.Fatalf("a refresh key's material opened as another key's: %v", err)
	}
}
