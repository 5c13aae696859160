package sanitize_test

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/sanitize"
	"github.com/protogate/gateway/transcoder"
)

// FuzzCheckPath checks that an accepted path is one path to everyone: decoded, it is valid UTF-8,
// has no NUL or control character, no backslash, and path.Clean leaves it as it is (but for a
// trailing slash) — no dot or empty segment a later hop could collapse differently.
func FuzzCheckPath(f *testing.F) {
	for _, s := range []string{"/", "/v1/users/1", "/v1/users/../x", "/a//b", "/a/%2e%2E/b", "/a%2Fb", "/%252e",
		"/a/%00", "/caf%C3%A9", "/%C3", "/a/b/", "/a/.", "/...", "/a\\b", "/%", "/%zz", "/é/ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if sanitize.CheckPath(raw) != nil || raw == "" || raw == "*" {
			return
		}
		dec, err := url.PathUnescape(raw)
		if err != nil {
			t.Fatalf("CheckPath(%q) accepted a path url.PathUnescape refuses: %v", raw, err)
		}
		if !utf8.ValidString(dec) {
			t.Fatalf("CheckPath(%q) accepted invalid UTF-8", raw)
		}
		if strings.ContainsFunc(dec, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
			t.Fatalf("CheckPath(%q) accepted a control character or backslash", raw)
		}
		trimmed := dec
		if len(trimmed) > 1 {
			trimmed = strings.TrimSuffix(trimmed, "/")
		}
		if path.Clean(trimmed) != trimmed {
			t.Fatalf("CheckPath(%q) accepted %q, which path.Clean changes to %q", raw, dec, path.Clean(trimmed))
		}
		if strings.Count(raw, "/") != strings.Count(dec, "/") {
			t.Fatalf("CheckPath(%q) accepted an encoded slash", raw)
		}
	})
}

// FuzzCheckQuery checks that an accepted query string parses, every key and value valid UTF-8
// without NUL.
func FuzzCheckQuery(f *testing.F) {
	for _, s := range []string{"", "a=1&b=2", "q=caf%C3%A9", "a=%FF", "a=%00", "a=%zz", "a+b=c+d", "&&a", "a=%0A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if sanitize.CheckQuery(raw) != nil {
			return
		}
		vals, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("CheckQuery(%q) accepted a query url.ParseQuery refuses: %v", raw, err)
		}
		for k, vs := range vals {
			for _, v := range append(vs, k) {
				if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
					t.Fatalf("CheckQuery(%q) accepted %q", raw, v)
				}
			}
		}
	})
}

// FuzzJSONShape checks the streaming checker against encoding/json: fed in two chunks split
// anywhere it decides as fed whole; a valid text it accepts is valid UTF-8 and within the limits.
func FuzzJSONShape(f *testing.F) {
	for _, s := range []string{`{}`, `[1,2,3]`, `{"a":[[[1]]]}`, `"\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", `[[],[],[]]`,
		`{"k":"v","l":[{"m":null}]}`, "\"é\"", `"\\\""`, "{\"a\":1}\n{\"b\":2}"} {
		f.Add([]byte(s), uint(1))
	}
	const depth, array, str = 3, 4, 8
	f.Fuzz(func(t *testing.T, data []byte, split uint) {
		whole := sanitize.NewJSONShape(depth, array, str)
		_, werr := whole.Write(data)
		if werr == nil {
			werr = whole.Close()
		}
		parts := sanitize.NewJSONShape(depth, array, str)
		cut := int(split % uint(len(data)+1))
		_, perr := parts.Write(data[:cut])
		if perr == nil {
			_, perr = parts.Write(data[cut:])
		}
		if perr == nil {
			perr = parts.Close()
		}
		if (werr == nil) != (perr == nil) || werr != nil && werr.Error() != perr.Error() {
			t.Fatalf("%q: whole %v, split at %d %v", data, werr, cut, perr)
		}
		if werr != nil || !json.Valid(data) {
			return
		}
		if !utf8.Valid(data) {
			t.Fatalf("%q: accepted invalid UTF-8", data)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		if d := measure(v, 0); d > depth {
			t.Fatalf("%q: accepted depth %d > %d", data, d, depth)
		}
	})
}

// measure returns v's nesting depth, failing on arrays and strings over the fuzz limits.
func measure(v any, level int) int {
	switch x := v.(type) {
	case []any:
		if len(x) > 4 {
			panic("array over the limit accepted")
		}
		max := level + 1
		for _, e := range x {
			max = maxInt(max, measure(e, level+1))
		}
		return max
	case map[string]any:
		max := level + 1
		for k, e := range x {
			if len(k) > 8 {
				panic("key over the limit accepted")
			}
			max = maxInt(max, measure(e, level+1))
		}
		return max
	case string:
		if len(x) > 8 {
			panic("string over the limit accepted")
		}
	}
	return level
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// FuzzBodyContentType checks that the middleware and the REST front read a Content-Type alike: a
// body over the limits labelled with any type the front reads as JSON or NDJSON
// (transcoder.RequestBodyKind) does not reach the front intact, of known length or chunked; one of
// any other type passes unread, for the front to refuse or take as it is.
func FuzzBodyContentType(f *testing.F) {
	for _, ct := range []string{"", "application/json", `application/json; charset="utf-8`, "application/jsonlines",
		"application/x-jsonlines; q", ";", "text/plain", "application/x-protobuf", "application/+json", "application/a+json;;"} {
		f.Add(ct, false)
	}
	mw, err := sanitize.New(testLimits)
	if err != nil {
		f.Fatal(err)
	}
	h := mw(policy.FrontREST, echo)
	over := `{"a":"` + strings.Repeat("x", 33) + `"}`
	f.Fuzz(func(t *testing.T, ct string, streamed bool) {
		if len(ct) > 1024 {
			return // over the header limits: refused before the body matters
		}
		var body io.Reader = strings.NewReader(over)
		if streamed {
			body = chunked{body}
		}
		r := httptest.NewRequest("POST", "/v1/orders", body)
		if streamed {
			r.ContentLength = -1
		}
		r.Header["Content-Type"] = []string{ct}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		reached := w.Code == 200 && w.Body.String() == over
		switch transcoder.RequestBodyKind(ct) {
		case transcoder.BodyJSON, transcoder.BodyNDJSON:
			if reached {
				t.Fatalf("Content-Type %q (streamed %v): a body over the limits reached the front", ct, streamed)
			}
		default:
			if !reached {
				t.Fatalf("Content-Type %q (streamed %v): the body did not reach the front: %d %q", ct, streamed, w.Code, w.Body)
			}
		}
	})
}

// FuzzContentEncoding checks the reading of Content-Encoding: a body passes exactly when every
// comma-separated coding on every line, without the spaces and tabs around it (HTTP's optional
// whitespace), is empty or identity in any ASCII case; any other is refused with 415, for every
// value net/http accepts (httpguts).
func FuzzContentEncoding(f *testing.F) {
	for _, s := range []string{"gzip", "br", "deflate", "identity, gzip", "identity\nX-Custom", "Identity", "", " , identity ,",
		"identity\t", "IDENTITY;q=1", "identity gzip"} {
		f.Add(s)
	}
	mw, err := sanitize.New(testLimits)
	if err != nil {
		f.Fatal(err)
	}
	h := mw(policy.FrontREST, echo)
	const plain = `{"nickname":"Countess"}`
	f.Fuzz(func(t *testing.T, encodings string) {
		lines := strings.Split(encodings, "\n")
		if len(encodings) > 1024 || len(lines) > 8 {
			return // over the header limits: refused before the body matters
		}
		want := true
		for _, line := range lines {
			if !httpguts.ValidHeaderFieldValue(line) {
				return // net/http refuses it
			}
			for coding := range strings.SplitSeq(line, ",") {
				coding = strings.Trim(coding, " \t")
				want = want && (coding == "" || len(coding) == len("identity") && strings.EqualFold(coding, "identity"))
			}
		}
		r := httptest.NewRequest("PATCH", "/v1/users/1", strings.NewReader(plain))
		r.Header.Set("Content-Type", "application/json")
		r.Header["Content-Encoding"] = lines
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		passed := w.Code == 200 && w.Body.String() == plain
		if passed != want || !passed && w.Code != 415 {
			t.Fatalf("Content-Encoding %q: %d %s; want passed %v, else 415", lines, w.Code, w.Body, want)
		}
	})
}
