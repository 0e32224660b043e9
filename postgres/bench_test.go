package postgres_test

import (
	"context"
	"testing"

	"github.com/authd/authd/authtest"
	"github.com/authd/authd/postgres"
	"github.com/authd/authd/storetest"
)

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) storetest.Store {
		s, err := postgres.Open(context.Background(), authtest.PostgresURL(b), postgres.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
