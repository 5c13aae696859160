package conformance_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// response is one front's answer to a case.
type response struct {
	status int
	header http.Header
	body   []byte
	json   any // the body parsed (numbers as json.Number), nil when it is not JSON
}

// send sends c to the front at base.
func send(t *testing.T, base string, c *testCase) *response {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(t.Context(), c.method, base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range c.header {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			t.Fatalf("header %q: want Name: value", h)
		}
		if value = strings.TrimSpace(value); value == "" {
			req.Header.Del(name)
			continue
		}
		req.Header.Set(name, value)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, base+c.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", c.method, base+c.path, err)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: data}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s %s: %d response with a Content-Type of JSON does not parse: %v\n%s", c.method, base+c.path, resp.StatusCode, err, data)
		}
		r.json = v
	}
	return r
}

// The normalizations applied to every answer before the two are compared. Each is an intentional
// difference of the gateway's (listed in the README) or a header that describes the transport, not
// the answer.
//
//   - Unpopulated fields: grpc-gateway's default marshaler emits every field, zero or not; the
//     gateway omits unpopulated fields (protojson's default: smaller answers, and a field's absence
//     is the same zero value to every proto JSON reader). Object members whose value is a zero
//     (null, false, 0, "", "0" (a 64-bit zero), an enum's *_UNSPECIFIED, [], {}) are dropped from
//     both answers.
//   - Grpc-Trailer-* headers: the gateway sends upstream trailers as response headers, which every
//     client sees; grpc-gateway sends them as HTTP trailers, and only to clients that sent
//     "TE: trailers". They are not compared.
//   - Grpc-Metadata-Content-Type: grpc-gateway echoes the upstream's content-type header
//     ("application/grpc") as metadata; the gateway passes no key that gRPC reserves for its own
//     use. Not compared.
//
// Every other response header named Grpc-Metadata-*, and Content-Type, must agree.

// comparedHeaders returns the headers of r that must agree, as "Name: value" lines.
func comparedHeaders(r *response) []string {
	var out []string
	for name, values := range r.header {
		switch {
		case name == "Grpc-Metadata-Content-Type":
			continue
		case name == "Content-Type", strings.HasPrefix(name, "Grpc-Metadata-"):
		default:
			continue
		}
		for _, v := range values {
			out = append(out, name+": "+v)
		}
	}
	slices.Sort(out)
	return out
}

// dropZero returns v without the object members whose values are zero, recursively (a member
// whose object becomes empty is dropped too).
func dropZero(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if x = dropZero(x); !isZero(x) {
				out[k] = x
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = dropZero(x)
		}
		return out
	}
	return v
}

func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case json.Number:
		f, err := v.Float64()
		return err == nil && f == 0
	case string:
		return v == "" || v == "0" || strings.HasSuffix(v, "_UNSPECIFIED")
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// agree returns nil when ours and theirs are the same answer after the normalizations, or what
// differs.
func agree(ours, theirs *response) error {
	var diffs []string
	if ours.status != theirs.status {
		diffs = append(diffs, fmt.Sprintf("status: gateway %d, grpc-gateway %d", ours.status, theirs.status))
	}
	if h, g := comparedHeaders(ours), comparedHeaders(theirs); !slices.Equal(h, g) {
		diffs = append(diffs, fmt.Sprintf("headers:\n  gateway      %q\n  grpc-gateway %q", h, g))
	}
	switch {
	case ours.json == nil && theirs.json == nil:
		if !bytes.Equal(ours.body, theirs.body) {
			diffs = append(diffs, "bodies (not JSON) differ")
		}
	case ours.json == nil || theirs.json == nil:
		diffs = append(diffs, "one body is JSON, the other not")
	default:
		if o, g := dropZero(ours.json), dropZero(theirs.json); !reflect.DeepEqual(o, g) {
			diffs = append(diffs, "JSON bodies differ (after dropping zero values): "+describe(o, g, ""))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("%s\n  gateway body:      %s\n  grpc-gateway body: %s", strings.Join(diffs, "\n"), clip(ours.body), clip(theirs.body))
}

// describe names the first place two JSON values differ.
func describe(a, b any, at string) string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := slices.Sorted(maps.Keys(am))
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			if !reflect.DeepEqual(am[k], bm[k]) {
				return describe(am[k], bm[k], at+"."+k)
			}
		}
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			if !reflect.DeepEqual(al[i], bl[i]) {
				return describe(al[i], bl[i], fmt.Sprintf("%s[%d]", at, i))
			}
		}
	}
	if at == "" {
		at = "(top)"
	}
	return fmt.Sprintf("at %s: gateway %v, grpc-gateway %v", at, a, b)
}

func clip(b []byte) string {
	const max = 600
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// statusBody is the google.rpc.Status of an error answer.
type statusBody struct {
	code    int64
	message string
	details []map[string]any
}

func statusOf(r *response) (statusBody, error) {
	m, ok := r.json.(map[string]any)
	if !ok {
		return statusBody{}, fmt.Errorf("%d answer is not a google.rpc.Status JSON object: %s", r.status, clip(r.body))
	}
	var s statusBody
	if n, ok := m["code"].(json.Number); ok {
		s.code, _ = n.Int64()
	}
	s.message, _ = m["message"].(string)
	details, _ := m["details"].([]any)
	for _, d := range details {
		if d, ok := d.(map[string]any); ok {
			s.details = append(s.details, d)
		}
	}
	return s, nil
}

// violationField is the field of the first violation of the first google.rpc.BadRequest detail.
func (s statusBody) violationField() (string, bool) {
	for _, d := range s.details {
		if d["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
			continue
		}
		vs, _ := d["fieldViolations"].([]any)
		if len(vs) == 0 {
			continue
		}
		v, _ := vs[0].(map[string]any)
		f, _ := v["field"].(string)
		return f, true
	}
	return "", false
}
