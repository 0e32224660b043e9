package sqlstore

import (
	"context"
	"crypto/ed25519"
	"fmt"

	auth "github.com/authd/authd"
)

// SigningKeys returns the kept signing keys, newest generation first.
func (s *Store) SigningKeys(ctx context.Context) ([]auth.SigningKey, error) {
	rows, err := s.stmt["signingKeys"].QueryContext(ctx)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var keys []auth.SigningKey
	for rows.Next() {
		var k auth.SigningKey
		var seed []byte
		var created, activates int64
		if err := rows.Scan(&k.ID, &k.Generation, &seed, &created, &activates); err != nil {
			return nil, s.wrap(err)
		}
		if len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("signing key %s: stored seed has %d bytes", k.ID, len(seed))
		}
		k.Private, k.CreatedAt, k.ActivatesAt = ed25519.NewKeyFromSeed(seed), fromMicros(created), fromMicros(activates)
		keys = append(keys, k)
	}
	return keys, s.wrap(rows.Err())
}

// AddSigningKey stores k unless a key of its generation already exists.
func (s *Store) AddSigningKey(ctx context.Context, k auth.SigningKey) error {
	_, err := s.exec(ctx, nil, "addSigningKey", k.ID, k.Generation, k.Private.Seed(), micros(k.CreatedAt), micros(k.ActivatesAt))
	return s.wrap(err)
}

// RefreshKeys returns the kept refresh keys, newest generation first.
func (s *Store) RefreshKeys(ctx context.Context) ([]auth.RefreshKey, error) {
	rows, err := s.stmt["refreshKeys"].QueryContext(ctx)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var keys []auth.RefreshKey
	for rows.Next() {
		var k auth.RefreshKey
		var created, activates int64
		if err := rows.Scan(&k.ID, &k.Generation, &k.Secret, &created, &activates); err != nil {
			return nil, s.wrap(err)
		}
		k.CreatedAt, k.ActivatesAt = fromMicros(created), fromMicros(activates)
		keys = append(keys, k)
	}
	return keys, s.wrap(rows.Err())
}

// AddRefreshKey stores k unless a key of its generation already exists.
func (s *Store) AddRefreshKey(ctx context.Context, k auth.RefreshKey) error {
	_, err := s.exec(ctx, nil, "addRefreshKey", k.ID, k.Generation, k.Secret, micros(k.CreatedAt), micros(k.ActivatesAt))
	return s.wrap(err)
}

// Secret returns the named secret, storing candidate first when there is none.
func (s *Store) Secret(ctx context.Context, name string, candidate []byte) ([]byte, error) {
	if _, err := s.exec(ctx, nil, "addSecret", name, candidate); err != nil {
		return nil, s.wrap(err)
	}
	var v []byte
	err := s.row(ctx, nil, "secret", name).Scan(&v)
	return v, s.wrap(err)
}
