package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	auth "github.com/authd/authd"
	"github.com/authd/authd/authtest"
	"github.com/authd/authd/sqlite"
	"github.com/authd/authd/sqlstore"
)

// The flows on a real SQLite store, with the clock the test moves: what the HTTP tests prove
// through the API, proven here at the Service, so that a rule can be read and tested where it is.

// fakeGoogle is a social provider that vouches for whatever identity the test sets.
type fakeGoogle struct{ id auth.SocialIdentity }

func (g *fakeGoogle) Identify(context.Context, string) (auth.SocialIdentity, error) { return g.id, nil }

type flows struct {
	svc    *auth.Service
	store  *sqlstore.Store
	clock  *authtest.Clock
	google *fakeGoogle
}

func newFlows(t *testing.T) *flows {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "authd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &flows{store: store, clock: authtest.NewClock(), google: &fakeGoogle{}}
	cfg := auth.DefaultConfig()
	f.svc, err = auth.New(t.Context(), cfg, auth.Deps{Store: store, Now: f.clock.Now,
		Hasher:    auth.NewHasher(auth.DefaultHashParams, 2, 2*time.Second),
		Providers: map[string]auth.SocialProvider{"google-oauth2": f.google}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const password = "correct horse battery"

func (f *flows) register(t *testing.T, email, phone string) {
	t.Helper()
	pw := password
	if err := f.svc.Register(t.Context(), auth.Registration{FirstName: "Ann", LastName: "Lee", Email: email, Phone: phone, Password: &pw}, nil); err != nil {
		t.Fatal(err)
	}
}

func (f *flows) login(t *testing.T, email, pw string) auth.TokenPair {
	t.Helper()
	pair, err := f.svc.Login(t.Context(), email, pw, nil, nil, nil)
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return pair
}

// code returns the code of the newest email due in the outbox, as the sender would open it.
func (f *flows) code(t *testing.T) string {
	t.Helper()
	now := f.clock.Now()
	items, err := f.store.ClaimOutbox(t.Context(), now, now.Add(time.Minute), 10)
	if err != nil || len(items) == 0 {
		t.Fatalf("outbox: %d emails, %v", len(items), err)
	}
	m, err := f.svc.OpenMessage(items[len(items)-1].Payload)
	if err != nil {
		t.Fatal(err)
	}
	return m.Code
}

func TestServiceRefresh(t *testing.T) {
	f := newFlows(t)
	ctx := t.Context()
	f.register(t, "ann@example.com", "+442071838750")
	first := f.login(t, "ann@example.com", password)

	next, err := f.svc.Refresh(ctx, first.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Verify(ctx, next.Access); err != nil {
		t.Fatalf("new access token: %v", err)
	}
	// Within the reuse window the same token yields the same successor.
	f.clock.Advance(5 * time.Second)
	again, err := f.svc.Refresh(ctx, first.Refresh)
	if err != nil || again.Refresh != next.Refresh {
		t.Fatalf("retry inside the window: %v, same successor %v", err, again.Refresh == next.Refresh)
	}
	// Past it, the reuse revokes the whole sign-in, its newest token too.
	f.clock.Advance(10 * time.Second)
	if _, err := f.svc.Refresh(ctx, first.Refresh); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("reuse past the window: %v, want ErrTokenInvalid", err)
	}
	if _, err := f.svc.Refresh(ctx, next.Refresh); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("the successor after reuse: %v, want ErrTokenInvalid", err)
	}
	if err := f.svc.Verify(ctx, next.Access); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("access token of the revoked sign-in: %v, want ErrTokenInvalid", err)
	}
	// The session's age bounds it, however often it is refreshed.
	pair := f.login(t, "ann@example.com", password)
	for range 40 { // 40 times 23 hours passes the default 30 days
		f.clock.Advance(23 * time.Hour)
		if pair, err = f.svc.Refresh(ctx, pair.Refresh); err != nil {
			break
		}
	}
	if !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("a sign-in refreshed past its maximum age: %v, want ErrTokenInvalid", err)
	}
}

func TestServiceReset(t *testing.T) {
	f := newFlows(t)
	ctx := t.Context()
	f.register(t, "ann@example.com", "+442071838750")
	before := f.login(t, "ann@example.com", password)

	if err := f.svc.RequestReset(ctx, "ANN@example.com", nil); err != nil {
		t.Fatal(err)
	}
	code := f.code(t)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	var ve auth.ValidationError
	if err := f.svc.ConfirmReset(ctx, "ann@example.com", wrong, "a new long secret", nil); !errors.As(err, &ve) || ve["otp"] == nil {
		t.Fatalf("a wrong code: %v, want a ValidationError on otp", err)
	}
	if err := f.svc.ConfirmReset(ctx, "ann@example.com", code, "password", nil); !errors.As(err, &ve) || ve["password"][0] != auth.MsgTooCommon {
		t.Fatalf("a common password: %v, want %q", err, auth.MsgTooCommon)
	}
	if err := f.svc.ConfirmReset(ctx, "ann@example.com", code, "a new long secret", nil); err != nil {
		t.Fatal(err)
	}
	// The side effects: the email is proven, every sign-in is over, the old password is gone.
	u, err := f.store.UserByEmailKey(ctx, "ann@example.com")
	if err != nil || !u.EmailVerified {
		t.Fatalf("after a reset: %+v, %v; want the email verified", u, err)
	}
	if err := f.svc.Verify(ctx, before.Access); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("access token from before the reset: %v", err)
	}
	if _, err := f.svc.Refresh(ctx, before.Refresh); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("refresh token from before the reset: %v", err)
	}
	if _, err := f.svc.Login(ctx, "ann@example.com", password, nil, nil, nil); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("the old password: %v", err)
	}
	f.login(t, "ann@example.com", "a new long secret")
	// The code is used up, and a code expires.
	if err := f.svc.VerifyResetCode(ctx, "ann@example.com", code, nil); !errors.As(err, &ve) {
		t.Fatalf("a used code: %v", err)
	}
	if err := f.svc.RequestReset(ctx, "ann@example.com", nil); err != nil {
		t.Fatal(err)
	}
	code = f.code(t)
	f.clock.Advance(auth.DefaultConfig().CodeTTL + time.Second)
	if err := f.svc.VerifyResetCode(ctx, "ann@example.com", code, nil); !errors.As(err, &ve) {
		t.Fatalf("an expired code: %v", err)
	}
}

func TestServiceGoogleSignIn(t *testing.T) {
	f := newFlows(t)
	ctx := t.Context()
	f.google.id = auth.SocialIdentity{Subject: "g-1", Email: "new@gmail.com", EmailVerified: true, FirstName: "New"}
	pair, created, err := f.svc.SignInWithProvider(ctx, "google-oauth2", "code", nil)
	if err != nil || !created {
		t.Fatalf("first Google sign-in: created %v, %v", created, err)
	}
	if err := f.svc.Verify(ctx, pair.Access); err != nil {
		t.Fatal(err)
	}
	if _, created, err := f.svc.SignInWithProvider(ctx, "google-oauth2", "code", nil); err != nil || created {
		t.Fatalf("second Google sign-in: created %v, %v", created, err)
	}

	// An account whose email was never proven: Google, authoritative for the Gmail address,
	// takes it over; the password someone set goes, with every sign-in made with it.
	f.register(t, "squat@gmail.com", "+442071838751")
	squatter := f.login(t, "squat@gmail.com", password)
	f.google.id = auth.SocialIdentity{Subject: "g-2", Email: "squat@gmail.com", EmailVerified: true}
	if _, created, err := f.svc.SignInWithProvider(ctx, "google-oauth2", "code", nil); err != nil || created {
		t.Fatalf("linking sign-in: created %v, %v", created, err)
	}
	if err := f.svc.Verify(ctx, squatter.Access); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("the password's sign-in after the link: %v", err)
	}
	if _, err := f.svc.Login(ctx, "squat@gmail.com", password, nil, nil, nil); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("the unproven password after the link: %v", err)
	}

	// Google not authoritative for the address: no link to an existing account.
	f.register(t, "ann@example.com", "+442071838752")
	f.google.id = auth.SocialIdentity{Subject: "g-3", Email: "ann@example.com", EmailVerified: true}
	if _, _, err := f.svc.SignInWithProvider(ctx, "google-oauth2", "code", nil); !errors.Is(err, auth.ErrSocialUnverifiedEmail) {
		t.Fatalf("a personal Google account with another's address: %v", err)
	}
	f.login(t, "ann@example.com", password)
}
