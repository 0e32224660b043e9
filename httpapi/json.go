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
	"strings"
	"unicode/utf8"

	auth "github.com/authd/authd"
)

// MaxBodyBytes bounds a request body; a larger one is answered 413.
const MaxBodyBytes = 64 << 10

// field describes one body field the way Django REST framework's CharField does.
type field struct {
	name      string
	alias     string // also accepted under this name (simplejwt's "refresh", "token")
	required  bool
	max       int  // characters; 0 is no limit
	raw       bool // keep surrounding spaces (passwords: checked exactly as received)
	nullBlank bool // null and "" are accepted and mean empty (optional free text)
}

// input is a decoded body: the values of the fields it declared, and the problems found.
type input struct {
	values  map[string]string
	present map[string]bool
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

// decode reads a JSON, form or multipart body and checks each declared field: required, blank,
// null, not a string, too long. It reports every field's problem together.
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
	in := input{values: map[string]string{}, present: map[string]bool{}, errs: auth.ValidationError{}}
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
		if v == nil {
			if !f.nullBlank {
				in.errs.Add(f.name, auth.MsgNull)
			}
			continue
		}
		s, isString := v.(string)
		if !isString {
			in.errs.Add(f.name, auth.MsgNotString)
			continue
		}
		if !f.raw {
			s = strings.TrimSpace(s)
		}
		switch {
		case strings.TrimSpace(s) == "" && !f.nullBlank:
			in.errs.Add(f.name, auth.MsgBlank)
		case f.max > 0 && utf8.RuneCountInString(s) > f.max:
			in.errs.Add(f.name, auth.TooLong(f.max))
		default:
			in.values[f.name], in.present[f.name] = s, true
		}
	}
	return in, nil
}

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
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, detail(http.StatusBadRequest, "Malformed form data.")
		}
		return formFields(vals), nil
	case "multipart/form-data":
		form, err := multipart.NewReader(bytes.NewReader(raw), params["boundary"]).ReadForm(MaxBodyBytes)
		if err != nil {
			return nil, detail(http.StatusBadRequest, "Multipart form parse error.")
		}
		defer form.RemoveAll()
		return formFields(form.Value), nil
	}
	return nil, detail(http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type %q in request.", contentType))
}

// formFields takes the last value of each form field, as Django's QueryDict does.
func formFields(vals map[string][]string) map[string]any {
	out := make(map[string]any, len(vals))
	for k, v := range vals {
		out[k] = v[len(v)-1]
	}
	return out
}

func parseJSON(raw []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
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
		return t, nil
	case nil:
		return nil, &requestError{http.StatusBadRequest, map[string]any{"non_field_errors": []string{"No data provided"}}}
	default:
		return nil, &requestError{http.StatusBadRequest, map[string]any{"non_field_errors": []string{
			fmt.Sprintf("Invalid data. Expected a dictionary, but got %s.", pythonType(t))}}}
	}
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
