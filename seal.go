package auth

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"errors"
	"fmt"
)

// Key material at rest. With a master key, every signing key, refresh key and secret the store
// keeps is sealed: AES-256-GCM under the master key with a fresh random nonce, and associated
// data naming what the value is ("signing-key:<kid>", "refresh-key:<kid>", "secret:<name>"), so
// that a sealed value copied into another row does not open there. A copy of the database alone
// then cannot mint tokens, read queued mail or check codes. Without a master key (the development
// default) values are stored as they are, and the first start with a key seals them in place.

// MasterKeySize is the length of a master key: an AES-256 key.
const MasterKeySize = 32

// sealedPrefix starts every sealed value, so sealed and unsealed rows are told apart (an
// unsealed value is 32 random bytes) and a later format can take another version.
var sealedPrefix = []byte("sealed:v1:")

// ErrSealed means stored key material is sealed and the master key that sealed it was not given
// (none, or another): the service cannot start.
var ErrSealed = errors.New("key material is sealed under a master key that was not given")

// CheckMasterKey returns an error unless key can be a master key: MasterKeySize bytes, and not
// all one byte value. Its errors never show the key.
func CheckMasterKey(key []byte) error {
	if len(key) != MasterKeySize {
		return fmt.Errorf("it has %d bytes, not %d", len(key), MasterKeySize)
	}
	if bytes.Count(key, key[:1]) == len(key) {
		return errors.New("every byte of it is the same, so it is not a random key")
	}
	return nil
}

// keyring seals and opens key material. Without a master key it passes values through.
type keyring struct {
	aead cipher.AEAD // nil without a master key
}

// newKeyring returns the keyring of master, which is nil (no sealing) or a valid master key.
func newKeyring(master []byte) (*keyring, error) {
	if master == nil {
		return &keyring{}, nil
	}
	if err := CheckMasterKey(master); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	block, err := aes.NewCipher(master)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &keyring{aead: aead}, nil
}

// sealing reports whether the keyring has a master key.
func (k *keyring) sealing() bool { return k.aead != nil }

// seal returns plain sealed for what (the associated data), or plain itself without a master key.
func (k *keyring) seal(what string, plain []byte) []byte {
	if k.aead == nil {
		return plain
	}
	nonce := randomBytes(k.aead.NonceSize())
	out := make([]byte, 0, len(sealedPrefix)+len(nonce)+len(plain)+k.aead.Overhead())
	out = append(append(out, sealedPrefix...), nonce...)
	return k.aead.Seal(out, nonce, plain, []byte(what))
}

// open returns the plain value of stored and whether it was sealed. A value without the sealed
// prefix is plain (written without a master key) and returned as is. A sealed value that does not
// open for what under this keyring (no master key, another one, another row's value, altered
// bytes) is ErrSealed.
func (k *keyring) open(what string, stored []byte) (plain []byte, sealed bool, err error) {
	rest, sealed := bytes.CutPrefix(stored, sealedPrefix)
	if !sealed {
		return stored, false, nil
	}
	if k.aead == nil || len(rest) < k.aead.NonceSize()+k.aead.Overhead() {
		return nil, true, ErrSealed
	}
	n := k.aead.NonceSize()
	plain, err = k.aead.Open(nil, rest[:n], rest[n:], []byte(what))
	if err != nil {
		return nil, true, ErrSealed
	}
	return plain, true, nil
}

func signingKeyLabel(kid string) string { return "signing-key:" + kid }
func refreshKeyLabel(kid string) string { return "refresh-key:" + kid }
func secretLabel(name string) string    { return "secret:" + name }

// storedSigningKey is k as the store keeps it: its seed, sealed.
func (k *keyring) storedSigningKey(sk SigningKey) StoredKey {
	return StoredKey{ID: sk.ID, Generation: sk.Generation, Material: k.seal(signingKeyLabel(sk.ID), sk.Private.Seed()),
		CreatedAt: sk.CreatedAt, ActivatesAt: sk.ActivatesAt}
}

// storedRefreshKey is r as the store keeps it: its secret, sealed.
func (k *keyring) storedRefreshKey(r RefreshKey) StoredKey {
	return StoredKey{ID: r.ID, Generation: r.Generation, Material: k.seal(refreshKeyLabel(r.ID), r.Secret),
		CreatedAt: r.CreatedAt, ActivatesAt: r.ActivatesAt}
}

// material opens a stored value. With a master key, a value still stored in the clear (a
// database from before the key was set, or a key added by a binary without one) is first sealed
// in place by replace, a conditional write: of instances starting together one seals it, and the
// others, finding it changed, keep the plain value they read, which is the same.
func (s *Service) material(ctx context.Context, what string, stored []byte, replace func(ctx context.Context, old, new []byte) error) ([]byte, error) {
	plain, sealed, err := s.keyring.open(what, stored)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if sealed || !s.keyring.sealing() {
		return plain, nil
	}
	switch err := replace(ctx, stored, s.keyring.seal(what, plain)); {
	case err == nil:
		s.log.Info("key material stored in the clear is now sealed with the master key", "event", "key_sealed", "what", what)
	case errors.Is(err, ErrConflict): // another instance sealed it first
	default:
		return nil, fmt.Errorf("seal %s: %w", what, err)
	}
	return plain, nil
}

// signingKeys opens stored signing keys, sealing in place those stored in the clear.
func (s *Service) signingKeys(ctx context.Context, stored []StoredKey) ([]SigningKey, error) {
	keys := make([]SigningKey, 0, len(stored))
	for _, st := range stored {
		seed, err := s.material(ctx, signingKeyLabel(st.ID), st.Material, func(ctx context.Context, old, new []byte) error {
			return s.store.ReplaceSigningKey(ctx, st.ID, old, new)
		})
		if err != nil {
			return nil, err
		}
		if len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("signing key %s: stored seed has %d bytes", st.ID, len(seed))
		}
		keys = append(keys, SigningKey{ID: st.ID, Generation: st.Generation, Private: ed25519.NewKeyFromSeed(seed),
			CreatedAt: st.CreatedAt, ActivatesAt: st.ActivatesAt})
	}
	return keys, nil
}

// refreshKeys opens stored refresh keys, sealing in place those stored in the clear.
func (s *Service) refreshKeys(ctx context.Context, stored []StoredKey) ([]RefreshKey, error) {
	keys := make([]RefreshKey, 0, len(stored))
	for _, st := range stored {
		secret, err := s.material(ctx, refreshKeyLabel(st.ID), st.Material, func(ctx context.Context, old, new []byte) error {
			return s.store.ReplaceRefreshKey(ctx, st.ID, old, new)
		})
		if err != nil {
			return nil, err
		}
		keys = append(keys, RefreshKey{ID: st.ID, Generation: st.Generation, Secret: secret, CreatedAt: st.CreatedAt, ActivatesAt: st.ActivatesAt})
	}
	return keys, nil
}

// secret returns the named 32-byte secret, creating it (sealed) on a fresh database and sealing
// in place one stored in the clear.
func (s *Service) secret(ctx context.Context, name string) ([]byte, error) {
	what := secretLabel(name)
	stored, err := s.store.Secret(ctx, name, s.keyring.seal(what, randomBytes(32)))
	if err != nil {
		return nil, err
	}
	return s.material(ctx, what, stored, func(ctx context.Context, old, new []byte) error {
		return s.store.ReplaceSecret(ctx, name, old, new)
	})
}
