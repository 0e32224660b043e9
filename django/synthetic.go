package django

import (
	"bufio"
	"fmt"
	"io"
)

// WriteSynthetic writes a dumpdata file of n made-up users of an accounts.user model, each tenth
// with a Google link and an outstanding refresh token, for measuring an import of any size
// (`authd bench django-dump`). The password hashes are well formed and match no password.
func WriteSynthetic(w io.Writer, n int) error {
	b := bufio.NewWriterSize(w, 256<<10)
	b.WriteString("[\n")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		pk := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		fmt.Fprintf(b, `{"model": "accounts.user", "pk": %q, "fields": {"password": "pbkdf2_sha256$600000$synthetic%d$bm90IGEgcmVhbCBoYXNoIGF0IGFsbCwgcmVhbGx5ISE=", "last_login": null, "email": "user%d@example.com", "first_name": "User", "last_name": "Number %d", "address": "", "phone_no": "+4420%08d", "email_verified": %t, "is_active": true, "date_joined": "2024-01-02T03:04:05.678Z"}}`,
			pk, i, i, i, 70000000+i%30000000, i%2 == 0)
		if i%10 == 0 {
			fmt.Fprintf(b, ",\n"+`{"model": "social_django.usersocialauth", "pk": %d, "fields": {"user": %q, "provider": "google-oauth2", "uid": "1%020d", "extra_data": {}}}`, i/10+1, pk, i)
			fmt.Fprintf(b, ",\n"+`{"model": "token_blacklist.outstandingtoken", "pk": %d, "fields": {"user": %q, "jti": "%032x", "token": "x.y.z", "created_at": "2024-01-02T03:04:05Z", "expires_at": "2030-01-02T03:04:05Z"}}`, i/10+1, pk, i)
		}
	}
	b.WriteString("\n]\n")
	return b.Flush()
}
