package resolvers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestTrailingData(t *testing.T) {
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
		if got := trailingData([]byte(body)); got != want {
			t.Errorf("trailingData(%q) = %d, want %d", body, got, want)
		}
	}
}

// FuzzTrailingData holds trailingData to encoding/json: a valid document has no data after its value,
// and where json.Decoder decodes the first value of a body (an object, an array or a string), the
// data after it starts where trailingData says, if anywhere.
func FuzzTrailingData(f *testing.F) {
	for _, seed := range []string{
		`{"query":"{ a }"}`, `{"query":"{ a }"} garbage`, `{"query":"{ a }"}{"query":"{ b }"}`, `[{"query":"{ a }"}]`,
		`{"a":"\\\"}"}x`, `"\u00e9"  1`, `{"a":[1,{"b":[]}]}]`, `  {"variables":{"s":"]}"}} `, `{"a"`, `null`, `-1.5e+3 x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := trailingData(b)
		if got < -1 || got >= len(b) || got >= 0 && skipSpace(b, got) != got {
			t.Fatalf("trailingData(%q) = %d: not a byte of b that is not whitespace", b, got)
		}
		if json.Valid(b) && got != -1 {
			t.Fatalf("trailingData(%q) = %d for a valid document", b, got)
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
			t.Fatalf("trailingData(%q) = %d, want %d (the first value is %q)", b, got, want, first)
		}
	})
}

// benchBody is a typical GraphQL POST body: a document with escapes, and variables.
var benchBody = []byte(`{"query":"query Dashboard($userId: String!, $pageSize: Int) {\n  getUser(id: $userId) { name email }\n  ` +
	`listOrders(userId: $userId, pageSize: $pageSize) { orders { id items { productId quantity product { name price } } } }\n}",` +
	`"operationName":"Dashboard","variables":{"userId":"1","pageSize":10,"filter":{"status":["SHIPPED","PENDING"],"note":"a \"quoted\" note"}}}` + "\n")

func BenchmarkTrailingData(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		if trailingData(benchBody) != -1 {
			b.Fatal("trailing data in the benchmark's body")
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
