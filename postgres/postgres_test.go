package postgres_test

import (
	"context"
	"testing"

	"github.com/authd/authd/authtest"
	"github.com/authd/authd/postgres"
	"github.com/authd/authd/storetest"
)

func TestStoreContract(t *testing.T) {
	authtest.PostgresURL(t) // skips the whole run without a database
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s, err := postgres.Open(context.Background(), authtest.PostgresURL(t), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
