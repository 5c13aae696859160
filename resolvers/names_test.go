package resolvers_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/schema"
)

// recordCaller keeps the bytes of every unary request.
type recordCaller struct {
	resolvers.Caller
	mu   sync.Mutex
	reqs [][]byte
}

func (c *recordCaller) CallUnary(ctx context.Context, method string, md metadata.MD, req, resp any, opts ...grpc.CallOption) error {
	c.mu.Lock()
	c.reqs = append(c.reqs, bytes.Clone(req.(*routing.Frame).Bytes()))
	c.mu.Unlock()
	return c.Caller.CallUnary(ctx, method, md, req, resp, opts...)
}

// Fields sharing a JSON name (proto2's foo_bar and fooBar) take their proto names, and the
// executor reads and writes each by its own: in arguments, in input objects given as literals or
// variables, and in the response.
func TestFieldsSharingAJSONName(t *testing.T) {
	rec := &recordCaller{}
	g := startEcho(t, testdataServices(t, "names.proto"), schema.Options{}, resolvers.Options{},
		func(c resolvers.Caller) resolvers.Caller { rec.Caller = c; return rec })
	const sel = `{ foo_bar fooBar owner { foo_bar fooBar plainField } owners { foo_bar fooBar } }`
	want := `{"echo":{"foo_bar":"c","fooBar":"d","owner":{"foo_bar":"a","fooBar":"b","plainField":7},"owners":[{"foo_bar":"e","fooBar":null}]}}`
	g.query(t, `{ echo(owner: {foo_bar: "a", fooBar: "b", plainField: 7}, owners: [{foo_bar: "e"}], foo_bar: "c", fooBar: "d") `+sel+` }`).
		ok(t).wantRawData(t, want)
	postVariables(t, g.gateway, `query ($o: OwnerInput, $os: [OwnerInput!]) { echo(owner: $o, owners: $os, foo_bar: "c", fooBar: "d") `+sel+` }`,
		`{"o": {"foo_bar": "a", "fooBar": "b", "plainField": 7}, "os": [{"foo_bar": "e"}]}`).ok(t).wantRawData(t, want)
	// Holder: owner (1) {foo_bar (1) "a", fooBar (2) "b", plain_field (3) 7}, owners (2) {foo_bar
	// "e"}, foo_bar (3) "c", fooBar (4) "d".
	const wire = "0a08" + "0a0161" + "120162" + "1807" + "1203" + "0a0165" + "1a0163" + "220164"
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, req := range rec.reqs {
		if got := hex.EncodeToString(req); got != wire {
			t.Errorf("request %d = %s, want %s", i, got, wire)
		}
	}
	if len(rec.reqs) != 2 {
		t.Errorf("%d requests", len(rec.reqs))
	}
}
