package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	auth "github.com/authd/authd"
)

// MaxBodyBytes bounds a request body; a larger one is answered 413.
const MaxBodyBytes = 64 << 10

// field describes one body field the way Django REST framework's CharField reads it. Its limit
// and format are rules of the root package, which judges the value.
type field struct {
	name      string
	alias     string // also accepted under this name (simplejwt's "refresh", "token")
	required  bool
	raw       bool // keep surrounding spaces (passwords: checked exactly as received)
	nullBlank bool // null and "" are accepted and mean empty (optional free text)
	boolean   bool // a BooleanField: true/false (or their form spellings), kept as "true" or "false"
}

// input is a decoded body: the values of the fields it declared, and the problems found. A
// value holding a NUL or a lone surrogate is kept with its problem, so that the rules can still
// report its length first, in Django REST framework's order.
type input struct {
	values  map[string]string
	present map[string]bool // sent as a usable string
	sent    map[string]bool // sent at all, whatever its value
	errs    auth.ValidationError
}

func (in input) str(name string) string { return in.values[name] }

// ptr returns the value of an optional field, or nil when it was not sent.
func (in input) ptr(name string) *string {
	if !in.present[name] {
		return nil
	}
	v := in.values[name]
	return &v
}

// requestError is a request that cannot be read at all: it answers with status and detail.
type requestError struct {
	status int
	body   map[string]any
}

func (e *requestError) Error() string { return fmt.Sprint(e.body) }

func detail(status int, msg string) *requestError {
	return &requestError{status: status, body: map[string]any{"detail": msg}}
}

// decode reads a JSON, form or multipart body and checks each declared field as text: required,
// blank, null, not a string, holding a NUL or a lone surrogate. It reports every field's problem
// together. A form that is not valid UTF-8, or JSON that is not, is refused whole.
func decode(w http.ResponseWriter, r *http.Request, fields []field) (input, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return input{}, detail(http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body is larger than %d bytes.", MaxBodyBytes))
		}
		return input{}, detail(http.StatusBadRequest, "Could not read the request body.")
	}
	body, err := parseBody(r.Header.Get("Content-Type"), raw)
	if err != nil {
		return input{}, err
	}
	in := input{values: map[string]string{}, present: map[string]bool{}, sent: map[string]bool{}, errs: auth.ValidationError{}}
	for _, f := range fields {
		v, ok := body[f.name]
		if !ok && f.alias != "" {
			v, ok = body[f.alias]
		}
		if !ok {
			if f.required {
				in.errs.Add(f.name, auth.MsgRequired)
			}
			continue
		}
		in.sent[f.name] = true
		if v == nil {
			if !f.nullBlank {
				in.errs.Add(f.name, auth.MsgNull)
			}
			continue
		}
		if f.boolean {
			if b, ok := parseBoolean(v); ok {
				in.values[f.name], in.present[f.name] = strconv.FormatBool(b), true
			} else {
				in.errs.Add(f.name, auth.MsgInvalidBoolean)
			}
			continue
		}
		var s string
		var surrogate rune
		switch t := v.(type) {
		case string:
			s = t
		case surrogateText:
			s, surrogate = t.text, t.surrogate
		default:
			in.errs.Add(f.name, auth.MsgNotString)
			continue
		}
		if !f.raw {
			s = strings.TrimSpace(s)
		}
		if strings.TrimSpace(s) == "" && !f.nullBlank {
			in.errs.Add(f.name, auth.MsgBlank)
			continue
		}
		// Both are reported, in Django REST framework's order. A NUL never reaches the store
		// (PostgreSQL refuses it in text, which would otherwise be a 500): every flow refuses a
		// field with a problem.
		if strings.IndexByte(s, 0) >= 0 {
			in.errs.Add(f.name, auth.MsgNullCharacter)
		}
		if surrogate != 0 {
			in.errs.Add(f.name, auth.SurrogateNotAllowed(surrogate))
		}
		in.values[f.name], in.present[f.name] = s, true
	}
	return in, nil
}

// parseBoolean reads a value as Django REST framework's BooleanField does: a JSON boolean, or
// one of its spellings of true and false in text.
func parseBoolean(v any) (bool, bool) {
	switch t := v.(type) {
	case bool:
		return t, true
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "true", "1", "yes", "on":
			return true, true
		case "false", "0", "no", "off":
			return false, true
		}
	case json.Number:
		switch t.String() {
		case "1":
			return true, true
		case "0":
			return false, true
		}
	}
	return false, false
}

// surrogateText is a JSON string that held a lone surrogate escape ("\ud800"): text is what
// encoding/json made of it (U+FFFD in its place), surrogate the first such code point.
type surrogateText struct {
	text      string
	surrogate rune
}

// notUTF8 answers a form whose bytes, names or values are not valid UTF-8: such text cannot be
// stored (PostgreSQL refuses it) and would be garbled if it were repaired.
func notUTF8() error { return detail(http.StatusBadRequest, "Form data is not valid UTF-8.") }

// parseBody returns the body's fields: strings, nil for JSON null, or other JSON values.
func parseBody(contentType string, raw []byte) (map[string]any, error) {
	if contentType == "" && len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	media, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		media = ""
	}
	switch media {
	case "application/json":
		return parseJSON(raw)
	case "application/x-www-form-urlencoded":
		if !utf8.Valid(raw) {
			return nil, notUTF8()
		}
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, detail(http.StatusBadRequest, "Malformed form data.")
		}
		return formFields(vals)
	case "multipart/form-data":
		form, err := multipart.NewReader(bytes.NewReader(raw), params["boundary"]).ReadForm(MaxBodyBytes)
		if err != nil {
			return nil, detail(http.StatusBadRequest, "Multipart form parse error.")
		}
		defer form.RemoveAll()
		return formFields(form.Value)
	}
	return nil, detail(http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type %q in request.", contentType))
}

// formFields takes the last value of each form field, as Django's QueryDict does. Every name
// and value must be valid UTF-8 (percent-escapes decode to any byte).
func formFields(vals map[string][]string) (map[string]any, error) {
	out := make(map[string]any, len(vals))
	for k, v := range vals {
		if !utf8.ValidString(k) {
			return nil, notUTF8()
		}
		for _, s := range v {
			if !utf8.ValidString(s) {
				return nil, notUTF8()
			}
		}
		out[k] = v[len(v)-1]
	}
	return out, nil
}

func parseJSON(raw []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	// encoding/json would replace invalid bytes with U+FFFD, silently changing what was sent (two
	// different passwords could become one); the original decoded the body as UTF-8 first.
	if !utf8.Valid(raw) {
		return nil, detail(http.StatusBadRequest, fmt.Sprintf("JSON parse error - invalid UTF-8 (at byte %d)", invalidUTF8At(raw)+1))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, detail(http.StatusBadRequest, "JSON parse error - "+jsonReason(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, detail(http.StatusBadRequest, "JSON parse error - Extra data after the JSON value")
	}
	switch t := v.(type) {
	case map[string]any:
		markSurrogates(raw, t)
		return t, nil
	case nil:
		return nil, &requestError{http.StatusBadRequest, map[string]any{"non_field_errors": []string{"No data provided"}}}
	default:
		return nil, &requestError{http.StatusBadRequest, map[string]any{"non_field_errors": []string{
			fmt.Sprintf("Invalid data. Expected a dictionary, but got %s.", pythonType(t))}}}
	}
}

// invalidUTF8At returns the offset of the first byte of b that does not begin a valid UTF-8
// sequence.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// markSurrogates replaces each string member of obj (decoded from raw, a valid JSON object) that
// held a lone surrogate escape with a surrogateText, so decode can refuse it as the original
// did. encoding/json turns such an escape into U+FFFD, which would change the text silently.
func markSurrogates(raw []byte, obj map[string]any) {
	if !bytes.Contains(raw, []byte(`\u`)) {
		return
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) != nil {
		return
	}
	for k, m := range members {
		s, isString := obj[k].(string)
		if !isString {
			continue
		}
		if r, found := loneSurrogate(m); found {
			obj[k] = surrogateText{text: s, surrogate: r}
		}
	}
}

// loneSurrogate returns the first \uXXXX escape in lit, a JSON string literal, that is a UTF-16
// surrogate not paired with the escape after it.
func loneSurrogate(lit []byte) (rune, bool) {
	for i := 0; i < len(lit); i++ {
		if lit[i] != '\\' {
			continue
		}
		i++ // the escaped character; \u is followed by four hex digits in valid JSON
		if lit[i] != 'u' || i+4 >= len(lit) {
			continue
		}
		r := hex4(lit[i+1 : i+5])
		i += 4
		if !utf16.IsSurrogate(r) {
			continue
		}
		if r < 0xdc00 && i+6 < len(lit) && lit[i+1] == '\\' && lit[i+2] == 'u' {
			if low := hex4(lit[i+3 : i+7]); low >= 0xdc00 && low <= 0xdfff {
				i += 6
				continue
			}
		}
		return r, true
	}
	return 0, false
}

func hex4(b []byte) rune {
	n, err := strconv.ParseUint(string(b), 16, 16)
	if err != nil {
		return utf8.RuneError
	}
	return rune(n)
}

// jsonReason is the decoder's complaint, without Go type names.
func jsonReason(err error) string {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "unexpected end of JSON input"
	}
	return "invalid JSON"
}

// pythonType names a JSON value's type as the original (Python) service did.
func pythonType(v any) string {
	switch t := v.(type) {
	case []any:
		return "list"
	case string:
		return "str"
	case bool:
		return "bool"
	case json.Number:
		if strings.ContainsAny(t.String(), ".eE") {
			return "float"
		}
		return "int"
	}
	return "dict"
}

// writeJSON writes v as the JSON response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
