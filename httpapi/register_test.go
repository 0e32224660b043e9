package httpapi_test

import (
	"strings"
	"testing"

	"github.com/authd/authd/authtest"
)

func TestRegisterReportsEveryProblemTogether(t *testing.T) {
	e := newEnv(t)
	r := e.post("/auth/register/", obj{"first_name": strings.Repeat("x", 151), "email": "not-an-email", "phone_no": "12345", "password": "1234"})
	want(t, r, 400, `{
		"first_name": ["Ensure this field has no more than 150 characters."],
		"last_name": ["This field is required."],
		"email": ["Enter a valid email address."],
		"phone_no": ["Enter a valid phone number."],
		"password": ["This password is too short. It must contain at least 8 characters.", "This password is too common.", "This password is entirely numeric."]
	}`)
}

func TestRegisterDuplicatesIgnoreEmailCaseAndPhoneFormat(t *testing.T) {
	e := newEnv(t)
	first := e.register("Dup@Example.com")
	r := e.post("/auth/register/", obj{"first_name": "A", "last_name": "B", "email": "dup@example.COM",
		"phone_no": first["phone_no"].(string)[:3] + " " + first["phone_no"].(string)[3:], "password": "unrelated words 99"})
	want(t, r, 400, `{"email":["user with this email already exists."],"phone_no":["user with this phone no already exists."]}`)
	// The account is the one first registered, under either case.
	e.login("DUP@example.com", testPassword)
}

func TestRegisterDuplicateReportedWithOtherFieldErrors(t *testing.T) {
	e := newEnv(t)
	e.register("taken@example.com")
	r := e.post("/auth/register/", obj{"email": "taken@example.com", "phone_no": newPhone(), "last_name": "B"})
	want(t, r, 400, `{"first_name":["This field is required."],"email":["user with this email already exists."]}`)
}

func TestPasswordRules(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		first, email, password string
		want                   string
	}{
		{"Alexandria", "ax@example.com", "alexandria1", `["The password is too similar to the first name."]`},
		{"Ann", "marvellous.penguin@example.com", "penguin123", `["The password is too similar to the email."]`},
		{"Ann", "a1@example.com", "password123", `["This password is too common."]`},
		{"Ann", "a2@example.com", " Password123 ", `["This password is too common."]`},
		{"Ann", "a3@example.com", "qwertyuiop", `["This password is too common."]`},
		{"Ann", "a4@example.com", "12345678901234", `["This password is entirely numeric."]`},
		{"Ann", "a5@example.com", "short", `["This password is too short. It must contain at least 8 characters."]`},
		{"Ann", "a6@example.com", strings.Repeat("p", 1025), `["Ensure this field has no more than 1024 characters."]`},
	}
	for _, tt := range tests {
		t.Run(tt.password[:min(len(tt.password), 20)], func(t *testing.T) {
			r := e.post("/auth/register/", obj{"first_name": tt.first, "last_name": "Smith", "email": tt.email, "phone_no": newPhone(), "password": tt.password})
			want(t, r, 400, `{"password":`+tt.want+`}`)
		})
	}
	t.Run("last name", func(t *testing.T) {
		r := e.post("/auth/register/", obj{"first_name": "Ann", "last_name": "Montgomery", "email": "m@example.com", "phone_no": newPhone(), "password": "montgomery7x"})
		want(t, r, 400, `{"password":["The password is too similar to the last name."]}`)
	})
}

func TestPasswordsAreKeptExactly(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("Zq9-", 25) // 100 characters
	for _, c := range []struct{ email, set, login string }{
		{"long@example.com", long, long},
		{"emoji@example.com", "correct horse 🐴 bättery staple", "correct horse 🐴 bättery staple"},
		{"nfc@example.com", "caf\u00e9 au lait please", "cafe\u0301 au lait please"}, // NFC set, NFD given
		{"spaces@example.com", "  leading and trailing  ", "  leading and trailing  "},
	} {
		r := e.post("/auth/register/", obj{"first_name": "Kim", "last_name": "Lee", "email": c.email, "phone_no": newPhone(), "password": c.set})
		want(t, r, 201, `{"detail":"User created successfully"}`)
		e.login(c.email, c.login)
	}
	for _, wrong := range []string{long[:99] + "X", strings.ToUpper(long), long[:99], "leading and trailing"} {
		email := "long@example.com"
		if wrong == "leading and trailing" {
			email = "spaces@example.com"
		}
		want(t, e.post("/auth/token/", obj{"email": email, "password": wrong}), 401, noAccount)
	}
}

func TestRegisterNationalPhoneNeedsRegion(t *testing.T) {
	e := newEnv(t)
	r := e.post("/auth/register/", obj{"first_name": "A", "last_name": "B", "email": "n1@example.com", "phone_no": "020 7183 8750"})
	want(t, r, 400, `{"phone_no":["Enter a valid phone number."]}`)

	g := newEnv(t, func(e *env) { e.cfg.PhoneRegion = "GB" })
	r = g.post("/auth/register/", obj{"first_name": "A", "last_name": "B", "email": "n2@example.com", "phone_no": "020 7183 8750", "password": testPassword})
	want(t, r, 201, `{"detail":"User created successfully"}`)
	// Stored in E.164: the international form is the same number.
	r = g.post("/auth/register/", obj{"first_name": "A", "last_name": "B", "email": "n3@example.com", "phone_no": "+44 20 7183 8750"})
	want(t, r, 400, `{"phone_no":["user with this phone no already exists."]}`)
}

func TestRegisterWithoutPasswordMailsACodeToSetOne(t *testing.T) {
	e := newEnv(t)
	r := e.post("/auth/register/", obj{"first_name": "Nopass", "last_name": "User", "email": "nopass@example.com", "phone_no": newPhone(), "address": "1 Main St"})
	want(t, r, 201, `{"detail":"User created successfully"}`)
	// No password signs in to an account without one: not an empty one, not JSON null, not the
	// word "null".
	for _, tt := range []struct {
		password any
		status   int
		want     string
	}{
		{"", 400, `{"password":["This field may not be blank."]}`},
		{nil, 400, `{"password":["This field may not be null."]}`},
		{"!", 401, noAccount},
		{"null", 401, noAccount},
	} {
		want(t, e.post("/auth/token/", obj{"email": "nopass@example.com", "password": tt.password}), tt.status, tt.want)
	}
	code := authtest.Code(t, e.smtp.WaitFor(1)[0])
	want(t, e.post("/auth/password/reset/verify", obj{"email": "nopass@example.com", "otp": code}), 200, `{"detail":"OTP is valid"}`)
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "nopass@example.com", "otp": code, "password": "a brand new secret"}), 200, `{"detail":"Password has been reset"}`)
	e.login("nopass@example.com", "a brand new secret")
}

func TestSignInWithPhoneNumber(t *testing.T) {
	e := newEnv(t, withGoogle)
	body := e.register("phone@example.com")
	phone := body["phone_no"].(string) // +442071xxxxxx
	spaced := phone[:3] + " " + phone[3:5] + " " + phone[5:9] + " " + phone[9:]
	for _, given := range []string{phone, spaced} {
		if r := e.post("/auth/token/", obj{"email": "phone@example.com", "password": testPassword, "phone_number": given}); r.status != 200 {
			t.Fatalf("phone %q: %d %s", given, r.status, r.raw)
		}
	}
	for _, wrong := range []string{"+14155550132", "not a number", newPhone()} {
		want(t, e.post("/auth/token/", obj{"email": "phone@example.com", "password": testPassword, "phone_number": wrong}), 401, noAccount)
	}
	// An account made by Google has no phone: any phone given is a mismatch.
	r := e.social(e.google.IDToken(marie, nil))
	if r.status != 201 {
		t.Fatal(r.raw)
	}
	code := e.resetCode(marie.Email)
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": marie.Email, "otp": code, "password": "marie's own password"}), 200, `{"detail":"Password has been reset"}`)
	e.login(marie.Email, "marie's own password")
	want(t, e.post("/auth/token/", obj{"email": marie.Email, "password": "marie's own password", "phone_number": phone}), 401, noAccount)
	// Unknown fields are ignored.
	if r := e.post("/auth/token/", obj{"email": "phone@example.com", "password": testPassword, "remember_me": true}); r.status != 200 {
		t.Fatalf("an unknown field: %d %s", r.status, r.raw)
	}
}

// The password rules judge the form that is hashed (NFKC): a fullwidth spelling of a common
// password is the common password, and combining marks that compose do not count as characters.
func TestPasswordRulesJudgeTheNormalisedPassword(t *testing.T) {
	e := newEnv(t)
	fullwidth := "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11\uff12\uff13" // ｐａｓｓｗｏｒｄ１２３
	composed := strings.Repeat("e\u0301", 4)                                          // 8 as received, 4 once composed
	short := `["This password is too short. It must contain at least 8 characters."]`
	for _, c := range []struct{ password, want string }{
		{fullwidth, `{"password":["This password is too common."]}`},
		{composed, `{"password":` + short + `}`},
		{"\uff17\uff13\uff19\uff11\uff18\uff14\uff16\uff12\uff10\uff15\uff17\uff13", `{"password":["This password is entirely numeric."]}`},
	} {
		r := e.post("/auth/register/", obj{"first_name": "Kim", "last_name": "Lee", "email": "nfkc@example.com", "phone_no": newPhone(), "password": c.password})
		want(t, r, 400, c.want)
	}
	e.register("nfkc@example.com")
	code := e.resetCode("nfkc@example.com")
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "nfkc@example.com", "otp": code, "password": fullwidth}), 400, `{"password":["This password is too common."]}`)
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "nfkc@example.com", "otp": code, "password": composed}), 400, `{"password":`+short+`}`)
}

// No email carries text the requester typed: a registration without a password mails a code to
// an address whose owner may have asked for nothing, so it must not greet them with a name that
// someone else chose.
func TestEmailsCarryNoTextTheRequesterTyped(t *testing.T) {
	e := newEnv(t)
	name := "Security Team: your account was locked, visit evil.example to unlock it"
	r := e.post("/auth/register/", obj{"first_name": name, "last_name": "Alert", "email": "target@example.com", "phone_no": newPhone(), "address": "Click evil.example now"})
	want(t, r, 201, `{"detail":"User created successfully"}`)
	e.smtp.WaitFor(1) // the welcome code's email, before a newer code could stop it
	code := e.resetCode("target@example.com")
	want(t, e.post("/auth/password/reset/confirm/", obj{"email": "target@example.com", "otp": code, "password": "the owner's own words"}), 200, `{"detail":"Password has been reset"}`)
	msgs := e.smtp.WaitFor(3) // the welcome code, the reset code, the notice
	for _, m := range msgs {
		for _, typed := range []string{"Security Team", "evil.example", "Alert"} {
			if strings.Contains(m.Raw, typed) {
				t.Errorf("email %q carries the requester's text %q:\n%s", m.Subject, typed, m.Text)
			}
		}
	}
}
