package resolvers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestScanBodyTrailingData(t *testing.T) {
	for body, want := range map[string]int{
		``:                                   -1,
		" \n":                                -1,
		`{}`:                                 -1,
		`{"query":"{ a }"}`:                  -1,
		"{\"query\":\"{ a }\"} \r\n\t":       -1,
		`{"query":"{ a }"} garbage`:          18,
		`{"query":"{ a }"}{"query":"{ b }"}`: 17,
		`{"a":"}"}x`:                         9,  // a bracket in a string does not count
		`{"a":"\"}"}x`:                       11, // nor does an escaped quote end the string
		`{"a":"\\"}x`:                        10, // an escaped backslash does not escape the quote
		`{"a":"\\\"}"}x`:                     13,
		`[{"query":"{ a }"}] x`:              20,
		`[[],{}] `:                           -1,
		`{"a":[1,{"b":[]}]}]`:                18,
		`"s" x`:                              4,
		`null x`:                             5,
		`12 x`:                               3,
		`{"query":"{ a }"`:                   -1, // ends inside the value: the decoder's to refuse
		`{"query":"{ a }`:                    -1,
		`}`:                                  -1, // no value
		`:{}`:                                -1,
	} {
		if got, _ := scanBody([]byte(body)); got != want {
			t.Errorf("scanBody(%q) trailing = %d, want %d", body, got, want)
		}
	}
}

// A request parameter given twice is found at its second key, named in any case or with escapes
// as encoding/json matches it to graphql.RawParams; keys of nested objects, string values, and
// other keys given twice are not parameters of the request.
func TestScanBodyRepeatedParams(t *testing.T) {
	for body, want := range map[string]int{
		`{"query":"{ a }"}`: -1,
		`{"query":"{ a }","operationName":"A","variables":{},"extensions":{}}`: -1,
		`{"query":"{ a }","query":"{ b }"}`:                                    17,
		`{"query":"{ a }" , "query":"{ b }"}`:                                  19,
		`{"variables":{"a":1},"query":"{ a }","variables":{}}`:                 37,
		`{"operationName":"A","operationName":"B"}`:                            21,
		`{"extensions":{},"extensions":{"persistedQuery":{}}}`:                 17,
		`{"query":"{ a }","QUERY":"{ b }"}`:                                    17,
		`{"query":"{ a }","\u0071uery":"{ b }"}`:                               17,
		`{"query":"{ a }","\u0051UERY":"{ b }"}`:                               17,
		`{"extensions":{},"extenſions":{}}`:                                    17, // ſ folds to s
		`{"query":"{ a }","variables":{"query":1,"query":2}}`:                  -1, // a variable's name
		`{"query":"query","x":"query"}`:                                        -1, // values
		`{"query":"{ a }","other":1,"other":2}`:                                -1, // ignored by gqlgen
		`{"query":"{ a }","queryx":1,"quer":2,"q\u0000uery":3}`:                -1,
		`{"query":"{ a }","\uD800query":1}`:                                    -1,
		`[{"query":"a"},{"query":"b"}]`:                                        -1, // a batch: gqlgen refuses it
		`{"query":"{ a }","query":"{ b }"`:                                     -1, // unfinished: the decoder's to refuse
		`{"query":"{ a }","query":"{ b }"} x`:                                  17,
	} {
		if _, got := scanBody([]byte(body)); got != want {
			t.Errorf("scanBody(%s) repeated = %d, want %d", body, got, want)
		}
	}
}

// The scan allocates nothing, whatever it finds.
func TestScanBodyAllocations(t *testing.T) {
	repeated := []byte(`{"query":"{ a }","variables":{"a":[1,{"b":"]"}]},"QUERY":"{ b }"}`)
	if n := testing.AllocsPerRun(100, func() {
		if _, r := scanBody(benchBody); r != -1 {
			t.Fatal("a repeated parameter in the benchmark's body")
		}
		if _, r := scanBody(repeated); r < 0 {
			t.Fatal("no repeated parameter found")
		}
	}); n != 0 {
		t.Errorf("scanBody allocates %v times a run, want 0", n)
	}
}

// The refusal of a repeated parameter names it, says where its second key is, and explains a key
// that does not spell it as its name.
func TestRepeatedParamMessage(t *testing.T) {
	for body, want := range map[string]string{
		`{"query":"{ a }","query":"{ b }"}`: `the body must be one JSON object with each key once: "query" is given twice (again at byte 17)`,
		`{"variables":{},"VARIABLES":{}}`: `the body must be one JSON object with each key once: "variables" is given twice (again at byte 16; ` +
			`keys match whatever their case or escapes)`,
	} {
		_, at := scanBody([]byte(body))
		if got := repeatedParam("the body", []byte(body), at).Error(); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", body, got, want)
		}
	}
}

// FuzzScanBody holds scanBody to encoding/json. A valid document has no data after its value, and
// where json.Decoder decodes the first value of a body (an object, an array or a string), the data
// after it starts where scanBody says, if anywhere. Where that value is an object, the repeated
// parameter scanBody finds is the first key that encoding/json decodes into a field of
// graphql.RawParams another key was decoded into, and scanObject finds a WebSocket message's key
// given twice the same way.
func FuzzScanBody(f *testing.F) {
	for _, seed := range []string{
		`{"query":"{ a }"}`, `{"query":"{ a }"} garbage`, `{"query":"{ a }"}{"query":"{ b }"}`, `[{"query":"{ a }"}]`,
		`{"a":"\\\"}"}x`, `"\u00e9"  1`, `{"a":[1,{"b":[]}]}]`, `  {"variables":{"s":"]}"}} `, `{"a"`, `null`, `-1.5e+3 x`,
		`{"query":"{ a }","query":"{ b }"}`, `{"Query":"a","\u0071UERY":"b"}`, `{"variables":{"query":1},"extenſions":{},"EXTENSIONS":{}}`,
		`{"operationName":"a","operationNam\u0065":"b","operationnamE":"c"}`, `{"k":1,"\u212a":2,"query":3}`,
		`{"id":"1","type":"subscribe","ID":"2"}`, `{"payload":{},"p\u0061yload":[]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, repeated := scanBody(b)
		if got < -1 || got >= len(b) || got >= 0 && skipSpace(b, got) != got {
			t.Fatalf("scanBody(%q) trailing = %d: not a byte of b that is not whitespace", b, got)
		}
		if json.Valid(b) && got != -1 {
			t.Fatalf("scanBody(%q) trailing = %d for a valid document", b, got)
		}
		start := skipSpace(b, 0)
		if start == len(b) || !strings.ContainsRune(`{["`, rune(b[start])) {
			return // numbers and literals end where the run of their bytes does: see valueEnd
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		var first json.RawMessage
		if dec.Decode(&first) != nil {
			return // the first value is malformed or unfinished: the decoder refuses the body
		}
		want := -1
		if end := int(dec.InputOffset()); skipSpace(b, end) < len(b) {
			want = skipSpace(b, end)
		}
		if got != want {
			t.Fatalf("scanBody(%q) trailing = %d, want %d (the first value is %q)", b, got, want, first)
		}
		if b[start] != '{' || !json.Valid(first) {
			if repeated != -1 && b[start] != '{' {
				t.Fatalf("scanBody(%q) repeated = %d in a value that is no object", b, repeated)
			}
			return
		}
		if want := repeatedKey(t, b[:start+len(first)], start, paramField); repeated != want {
			t.Fatalf("scanBody(%q) repeated = %d, want %d", b, repeated, want)
		}
		// The same scan finds a WebSocket message's key given twice.
		if _, repeated := scanObject(b, envelope[:]); repeated != repeatedKey(t, b[:start+len(first)], start, envelopeField) {
			t.Fatalf("scanObject(%q, envelope) repeated = %d, want %d", b, repeated, repeatedKey(t, b[:start+len(first)], start, envelopeField))
		}
	})
}

// paramField returns the field of graphql.RawParams encoding/json decodes key (a JSON string, with
// its quotes) into, or "".
func paramField(key []byte) string {
	// A string for the string fields, an object for the maps, whatever the value was.
	var p graphql.RawParams
	for _, v := range []string{`"x"`, `{}`} {
		_ = json.Unmarshal([]byte("{"+string(key)+":"+v+"}"), &p)
	}
	switch {
	case p.Query != "":
		return "query"
	case p.OperationName != "":
		return "operationName"
	case p.Variables != nil:
		return "variables"
	case p.Extensions != nil:
		return "extensions"
	}
	return ""
}

// envelopeField returns the field of a WebSocket message (wireMessage) encoding/json decodes key
// into, or "".
func envelopeField(key []byte) string {
	var m wireMessage
	_ = json.Unmarshal([]byte("{"+string(key)+`:"x"}`), &m)
	switch {
	case m.ID != "":
		return "id"
	case m.Type != "":
		return "type"
	}
	if json.Unmarshal([]byte("{"+string(key)+`:{}}`), &m); m.Payload != nil {
		return "payload"
	}
	return ""
}

// repeatedKey returns the offset in b of the first key of the valid JSON object at b[start] that
// fieldOf says names a field an earlier key named, or -1.
func repeatedKey(t *testing.T, b []byte, start int, fieldOf func(key []byte) string) int {
	dec := json.NewDecoder(bytes.NewReader(b[start:]))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for dec.More() {
		prev := int(dec.InputOffset())
		if _, err := dec.Token(); err != nil { // the key
			t.Fatal(err)
		}
		keyStart := start + prev + bytes.IndexByte(b[start+prev:], '"')
		key := b[keyStart : start+int(dec.InputOffset())]
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			t.Fatal(err)
		}
		field := fieldOf(key)
		if field == "" {
			continue
		}
		if seen[field] {
			return keyStart
		}
		seen[field] = true
	}
	return -1
}

// benchBody is a typical GraphQL POST body: a document with escapes, and variables.
var benchBody = []byte(`{"query":"query Dashboard($userId: String!, $pageSize: Int) {\n  getUser(id: $userId) { name email }\n  ` +
	`listOrders(userId: $userId, pageSize: $pageSize) { orders { id items { productId quantity product { name price } } } }\n}",` +
	`"operationName":"Dashboard","variables":{"userId":"1","pageSize":10,"filter":{"status":["SHIPPED","PENDING"],"note":"a \"quoted\" note"}}}` + "\n")

func BenchmarkScanBody(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		if trailing, repeated := scanBody(benchBody); trailing != -1 || repeated != -1 {
			b.Fatal("trailing data or a repeated parameter in the benchmark's body")
		}
	}
}

// BenchmarkReadPOSTBody is the whole check a POST pays: the body read into a pooled buffer,
// scanned, and handed on.
func BenchmarkReadPOSTBody(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	var src bytes.Reader
	var body io.ReadCloser = struct {
		*bytes.Reader
		noClose
	}{&src, noClose{}}
	r, err := http.NewRequest(http.MethodPost, "/graphql", nil)
	if err != nil {
		b.Fatal(err)
	}
	r.ContentLength = int64(len(benchBody))
	for b.Loop() {
		src.Reset(benchBody)
		r.Body = body
		pb, _, err := readPOSTBody(r)
		if err != nil {
			b.Fatal(err)
		}
		pb.release()
	}
}

type noClose struct{}

func (noClose) Close() error { return nil }

// lateBody is a body whose read the limits policy refused because it did not arrive in time.
type lateBody struct{}

func (lateBody) Read([]byte) (int, error) {
	return 0, status.Error(codes.DeadlineExceeded, "the request body did not arrive within 1m0s")
}

// A body that did not arrive in the time the limits policy allows it is refused 408
// DEADLINE_EXCEEDED, with the policy's words, as REST refuses it; not 400 as a body that could not
// be read.
func TestLateBodyIsRequestTimeout(t *testing.T) {
	r, err := http.NewRequest(http.MethodPost, "/graphql", io.NopCloser(lateBody{}))
	if err != nil {
		t.Fatal(err)
	}
	_, code, gerr := readPOSTBody(r)
	if code != http.StatusRequestTimeout || gerr == nil {
		t.Fatalf("HTTP %d %v, want 408", code, gerr)
	}
	b, _ := json.Marshal(gerr)
	if !strings.Contains(string(b), `"code":"DEADLINE_EXCEEDED"`) || !strings.Contains(string(b), "did not arrive within 1m0s") {
		t.Errorf("error %s, want DEADLINE_EXCEEDED with the policy's message", b)
	}
}
