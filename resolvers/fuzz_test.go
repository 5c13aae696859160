package resolvers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/introspection"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/routing"
)

// FuzzQuery sends arbitrary documents and variables to the handler over the every.v1 echo backend:
// whatever they are, the handler must not panic and must answer a GraphQL response in JSON.
func FuzzQuery(f *testing.F) {
	for _, seed := range [][2]string{
		{`{ echo(s: "x", i64: "5", by: "AQ==", color: COLOR_RED) { s i64 by color list counts inner { name } again { s } } }`, `{}`},
		{`query ($n: Int, $j: JSON) { echo(i32: $n, u32: $n) { i32 u32 } echoKnown(st: $j, v: $j) { st v } }`, `{"n": 3000000000, "j": {"a": [1, null]}}`},
		{`{ echoKnown(at: "2024-01-01T00:00:00Z", took: "1s", mask: ["a_b"]) { at took mask times nothing } ping }`, ``},
		{`{ echoHolder(name: "h", items: [{u32: 1}]) { name echoed { s } items { u32 failing { s } } } }`, `null`},
		{`{ a: echo { ...f } b: echo { ...f } } fragment f on Scalars { b @include(if: true) s @skip(if: false) }`, `{}`},
		{`query ($s: Boolean = true) { a: echo @skip(if: $s) { s } ...f } fragment f on Query { b: echo @include(if: $s) { s } }`, `{"s": null}`},
		{`{ broken { s i32 } fail { s } __typename }`, `{}`},
		{`mutation { echoWrappers(d: 1) { d } }`, `{}`},
		{`subscription { watch(i32: 1) { s } }`, `{}`},
		{introspection.Query, `{}`},
		{`{ __type(name: "Scalars") { name fields { name type { name kind ofType { name } } } } }`, `{}`},
		{`query ($x: [String!]) { echo(strs: $x, inners: {_1: {}}) { strs inners } }`, `{"x": ["a", "b"]}`},
		{`{`, `{`},
		{"{" + strings.Repeat(" s", 2001) + " }", `{}`},                                       // over the default max_fields
		{"{" + strings.Repeat(" ...f", 2001) + " } fragment f on Query { __typename }", `{}`}, // spreads, over it too
		{fragments(resolvers.DefaultMaxFragments), `{}`},                                      // over the default max_fragments
		{`query A { ...f } query B { ...f } fragment f on Query { ... on Query { ...{ __typename } } }`, `{}`},
		{"{ echo {" + strings.Repeat(" a: s a: i32", 101) + " } }", `{}`}, // pairs of fields, over the default
		{`{ a: echo { ...f } a: echo { ...g } } fragment f on Scalars { inner { ...g } } fragment g on Scalars { inner { ...f } }`, `{}`},
	} {
		f.Add(seed[0], seed[1])
	}
	var logged testlog.Buffer // what the handler logs: panics it recovered from
	g := startEvery(f, resolvers.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	f.Fuzz(func(t *testing.T, query, variables string) {
		req := map[string]any{"query": query}
		if json.Valid([]byte(variables)) {
			req["variables"] = json.RawMessage(variables)
		}
		body, _ := json.Marshal(req)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hr := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", bytes.NewReader(body))
		hr.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		start := time.Now()
		g.handler.ServeHTTP(w, hr)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("query %q with variables %q took %v", query, variables, d)
		}
		var resp map[string]json.RawMessage
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("query %q: status %d, body is not a JSON object: %v: %s", query, w.Code, err, w.Body.Bytes())
		}
		_, hasData := resp["data"]
		_, hasErrors := resp["errors"]
		if !hasData && !hasErrors {
			t.Fatalf("query %q: neither data nor errors: %s", query, w.Body.Bytes())
		}
		if s := logged.String(); s != "" {
			t.Fatalf("query %q: the handler panicked: %s", query, s)
		}
	})
}

// FuzzUpstreamBytes answers every call with arbitrary bytes: whatever an upstream sends, the
// response is JSON, fields that cannot be read fail alone, and nothing panics.
func FuzzUpstreamBytes(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		{0x08, 0x01, 0x10, 0xfb, 0xff, 0xff, 0xff, 0x0f},    // b: true, i32: -5
		{0x72, 0x03, 'a', 'b', 'c', 0x7a, 0x02, 0xff, 0xfe}, // s: "abc", by
		{0x9a, 0x01, 0x04, 0x0a, 0x00, 0x10, 0x07},          // counts entry
		{0x22, 0x05, 0x0a, 0x03, 0x0a, 0x01, 'x'},           // st: a Struct with a malformed entry
		{0x0a, 0xff, 0xff},
		{0x2a, 0x04, 0x1a, 0x02, 0x08, 0x01}, // a Value inside
	} {
		f.Add(seed)
	}
	var logged testlog.Buffer // what the handler logs: panics it recovered from
	sch := startEvery(f, resolvers.Options{}).schema
	upstream := &fixedCaller{}
	h, err := resolvers.NewHandler(sch, upstream, resolvers.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		f.Fatal(err)
	}
	const doc = `{
		echo { b i32 s32 sf32 u32 f32 i64 s64 sf64 u64 f64 fl d s by color opt list counts colors strs inners text inner { name n } zigzags doubles again { s } }
		echoKnown { at took mask st v lv any nothing times }
		echoWrappers { d f i64 u64 i32 u32 b s by }
		echoHolder { name one { s } items { s u32 } echoed { s } }
	}`
	body, _ := json.Marshal(map[string]string{"query": doc})
	f.Fuzz(func(t *testing.T, data []byte) {
		upstream.answer.Store(&data)
		hr := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		hr.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, hr)
		var resp struct {
			Data map[string]json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.Data == nil {
			t.Fatalf("upstream bytes %x: not a response with data: %v: %s", data, err, w.Body.Bytes())
		}
		if s := logged.String(); s != "" {
			t.Fatalf("upstream bytes %x: the handler panicked: %s", data, s)
		}
	})
}

// fixedCaller answers every call with the same bytes.
type fixedCaller struct{ answer atomic.Pointer[[]byte] }

func (c *fixedCaller) Route(ctx context.Context, _ string, _ metadata.MD) (routing.Upstream, error) {
	return routing.Upstream{Ctx: ctx, Conn: fixedConn{c}}, nil
}

func (*fixedCaller) CallOptions() []grpc.CallOption { return nil }

func (*fixedCaller) Admit(context.Context, string, metadata.MD, int) (func(), error) {
	return func() {}, nil
}

func (c *fixedCaller) CallUnary(ctx context.Context, method string, _ metadata.MD, req, resp any, opts ...grpc.CallOption) error {
	return fixedConn{c}.Invoke(ctx, method, req, resp, opts...)
}

type fixedConn struct{ c *fixedCaller }

func (f fixedConn) Invoke(_ context.Context, _ string, _, reply any, _ ...grpc.CallOption) error {
	reply.(*routing.Frame).SetBytes(append([]byte(nil), *f.c.answer.Load()...))
	return nil
}

func (fixedConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("no streams")
}
