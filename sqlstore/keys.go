package sqlstore

import (
	"context"

	auth "github.com/authd/authd"
)

// SigningKeys returns the kept signing keys, newest generation first.
func (s *Store) SigningKeys(ctx context.Context) ([]auth.StoredKey, error) {
	return s.keys(ctx, "signingKeys")
}

// AddSigningKey stores k unless a key of its generation already exists.
func (s *Store) AddSigningKey(ctx context.Context, k auth.StoredKey) error {
	_, err := s.exec(ctx, nil, "addSigningKey", k.ID, k.Generation, k.Material, micros(k.CreatedAt), micros(k.ActivatesAt))
	return s.wrap(err)
}

// ReplaceSigningKey swaps the material of a signing key only if it is still old.
func (s *Store) ReplaceSigningKey(ctx context.Context, kid string, old, new []byte) error {
	return s.replace(ctx, "replaceSigningKey", new, kid, old)
}

// RefreshKeys returns the kept refresh keys, newest generation first.
func (s *Store) RefreshKeys(ctx context.Context) ([]auth.StoredKey, error) {
	return s.keys(ctx, "refreshKeys")
}

// AddRefreshKey stores k unless a key of its generation already exists.
func (s *Store) AddRefreshKey(ctx context.Context, k auth.StoredKey) error {
	_, err := s.exec(ctx, nil, "addRefreshKey", k.ID, k.Generation, k.Material, micros(k.CreatedAt), micros(k.ActivatesAt))
	return s.wrap(err)
}

// ReplaceRefreshKey swaps the material of a refresh key only if it is still old.
func (s *Store) ReplaceRefreshKey(ctx context.Context, kid string, old, new []byte) error {
	return s.replace(ctx, "replaceRefreshKey", new, kid, old)
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

// ReplaceSecret swaps the value of the named secret only if it is still old.
func (s *Store) ReplaceSecret(ctx context.Context, name string, old, new []byte) error {
	return s.replace(ctx, "replaceSecret", new, name, old)
}

// keys reads signing or refresh keys with the named query.
func (s *Store) keys(ctx context.Context, query string) ([]auth.StoredKey, error) {
	rows, err := s.stmt[query].QueryContext(ctx)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var keys []auth.StoredKey
	for rows.Next() {
		var k auth.StoredKey
		var created, activates, retired int64
		if err := rows.Scan(&k.ID, &k.Generation, &k.Material, &created, &activates, &retired); err != nil {
			return nil, s.wrap(err)
		}
		k.CreatedAt, k.ActivatesAt, k.RetiredAt = fromMicros(created), fromMicros(activates), fromMicros(retired)
		keys = append(keys, k)
	}
	return keys, s.wrap(rows.Err())
}

// replace runs a conditional update of key material: one row changed, or auth.ErrConflict.
func (s *Store) replace(ctx context.Context, query string, args ...any) error {
	n, err := s.exec(ctx, nil, query, args...)
	if err != nil {
		return s.wrap(err)
	}
	if n != 1 {
		return auth.ErrConflict
	}
	return nil
}
