package resolvers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/protogate/gateway/resolvers"
)

// sse subscribes over Server-Sent Events and returns the events as they come ("next" payloads, or
// "complete"), and the function that drops the connection.
func (g *gateway) sse(t *testing.T, doc string) (<-chan sseEvent, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	body, _ := json.Marshal(request{Query: doc})
	hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.url, strings.NewReader(string(body)))
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "text/event-stream")
	hr.Header.Set("Authorization", "Bearer sse")
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan sseEvent, 64)
	go func() {
		defer close(events)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.resp)
			case line == "" && ev.name != "":
				events <- ev
				ev = sseEvent{}
			}
		}
	}()
	return events, cancel
}

type sseEvent struct {
	name string
	resp response
}

func next(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return sseEvent{}
}

// waitDone waits for the upstream call's context to end: the backend saw the cancellation.
func waitDone(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	if ctx == nil {
		t.Fatalf("%s: no upstream call", what)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the upstream stream was not cancelled", what)
	}
}

func TestSubscriptionOverSSE(t *testing.T) {
	g := startGateway(t, setup{})
	events, drop := g.sse(t, `subscription { watchInventory(id: "p1", interval: "0.01s") { productId stock sequence at } }`)
	for want := 1; want <= 3; want++ {
		ev := next(t, events)
		if ev.name != "next" || len(ev.resp.Errors) > 0 {
			t.Fatalf("event %q: %s", ev.name, ev.resp.Data)
		}
		var got struct {
			W struct {
				ProductID string `json:"productId"`
				Stock     string
				Sequence  string
				At        string
			} `json:"watchInventory"`
		}
		_ = json.Unmarshal(ev.resp.Data, &got)
		if got.W.ProductID != "p1" || got.W.Sequence != itoa(want) || got.W.Stock == "" || got.W.At == "" {
			t.Errorf("event %d: %s", want, ev.resp.Data)
		}
	}
	upstream := g.calls.last(mWatchInventory)
	if a := mdOf(upstream).Get("authorization"); len(a) != 1 || a[0] != "Bearer sse" {
		t.Errorf("authorization = %q", a)
	}
	drop() // the client goes away
	waitDone(t, upstream, "SSE disconnect")
}

func TestSubscriptionCompletesWithTheStream(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	events, _ := g.sse(t, `subscription { watch(i32: 3, s: "x") { i32 s again { s } } }`)
	for range 3 {
		ev := next(t, events)
		if ev.name != "next" {
			t.Fatalf("event %q", ev.name)
		}
		// Links resolve in every event.
		ev.resp.ok(t).wantRawData(t, `{"watch":{"i32":3,"s":"x","again":{"s":"x"}}}`)
	}
	if ev := next(t, events); ev.name != "complete" {
		t.Errorf("after the stream ended: %q", ev.name)
	}
}

func TestSubscriptionUpstreamError(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	events, _ := g.sse(t, `subscription { watch(s: "fail") { s } }`)
	next(t, events).resp.ok(t).wantRawData(t, `{"watch":{"s":"fail"}}`)
	ev := next(t, events)
	if len(ev.resp.Errors) != 1 || ev.resp.Errors[0].code() != "RESOURCE_EXHAUSTED" || pathString(ev.resp.Errors[0].Path) != "watch" {
		t.Errorf("error event: %+v", ev.resp)
	}
	if ev := next(t, events); ev.name != "complete" {
		t.Errorf("after the error: %q", ev.name)
	}
}

func TestSubscriptionInvalidArgument(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	events, _ := g.sse(t, `subscription { watch(text: "a", inner: {name: "b"}) { s } }`)
	ev := next(t, events)
	if len(ev.resp.Errors) != 1 || ev.resp.Errors[0].code() != "INVALID_ARGUMENT" {
		t.Errorf("event: %+v", ev.resp)
	}
	// A literal its scalar refuses fails validation: the subscription never starts.
	events, _ = g.sse(t, `subscription { watch(i64: "x") { s } }`)
	ev = next(t, events)
	if len(ev.resp.Errors) != 1 || ev.resp.Errors[0].code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("event: %+v", ev.resp)
	}
	if n := g.calls.count(); len(n) != 0 {
		t.Errorf("upstream calls were made: %v", n)
	}
}

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func TestSubscriptionOverWebSocket(t *testing.T) {
	g := startGateway(t, setup{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.url, "http"), &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	send := func(m wsMessage) {
		t.Helper()
		if err := wsjson.Write(ctx, c, m); err != nil {
			t.Fatal(err)
		}
	}
	read := func() wsMessage {
		t.Helper()
		for {
			var m wsMessage
			if err := wsjson.Read(ctx, c, &m); err != nil {
				t.Fatal(err)
			}
			if m.Type != "ping" && m.Type != "pong" {
				return m
			}
		}
	}
	send(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{"Authorization":"Bearer ws"}`)})
	if m := read(); m.Type != "connection_ack" {
		t.Fatalf("got %+v", m)
	}
	subscribe := func(id string) {
		t.Helper()
		p, _ := json.Marshal(request{Query: `subscription { watchInventory(id: "p2", interval: "0.01s") { productId sequence } }`})
		send(wsMessage{ID: id, Type: "subscribe", Payload: p})
		for want := 1; want <= 2; want++ {
			m := read()
			if m.ID != id && (m.Type == "complete" || m.Type == "next") {
				// The server confirms the end of an earlier subscription, whose events sent before
				// it read the client's complete may come first.
				want--
				continue
			}
			var r response
			_ = json.Unmarshal(m.Payload, &r)
			if m.Type != "next" || m.ID != id || len(r.Errors) > 0 {
				t.Fatalf("got %+v %s", m, m.Payload)
			}
			r.wantRawData(t, `{"watchInventory":{"productId":"p2","sequence":"`+itoa(want)+`"}}`)
		}
	}

	// Unsubscribing cancels the upstream stream.
	subscribe("1")
	upstream := g.calls.last(mWatchInventory)
	if a := mdOf(upstream).Get("authorization"); len(a) != 1 || a[0] != "Bearer ws" {
		t.Errorf("authorization from connection_init = %q", a)
	}
	send(wsMessage{ID: "1", Type: "complete"})
	waitDone(t, upstream, "unsubscribe")

	// Dropping the connection does too.
	subscribe("2")
	upstream = g.calls.last(mWatchInventory)
	_ = c.CloseNow()
	waitDone(t, upstream, "WebSocket disconnect")
}

func TestSubscriptionNeedsAStreamingTransport(t *testing.T) {
	g := startEvery(t, resolvers.Options{})
	r := g.query(t, `subscription { watch(i32: 1) { s } }`)
	if len(r.Errors) != 1 || r.Errors[0].code() != "INVALID_ARGUMENT" || !strings.Contains(r.Errors[0].Message, "streaming transport") {
		t.Errorf("subscription over plain POST: %s", r.raw)
	}
}

// A subscription selects one field at its top level, counted by response name through fragments,
// as the specification's validation has it: two aliases of one field, written out, in a fragment
// or an inline fragment, fail validation, nothing runs; one field selected in several places, its
// selections merged, is one.
func TestSubscriptionSelectsOneField(t *testing.T) {
	g := startGateway(t, setup{})
	for _, tc := range []struct{ doc, msg string }{
		{`subscription S { ...F } fragment F on Subscription { watchInventory(id: "p1") { stock } w2: watchInventory(id: "p2") { stock } }`,
			`Subscription "S" must select only one top level field.`},
		{`subscription { a: watchInventory(id: "p1") { stock } b: watchInventory(id: "p2") { stock } }`,
			`Anonymous Subscription must select only one top level field.`},
		{`subscription { ... on Subscription { watchInventory(id: "p1") { stock } } w2: watchInventory(id: "p2") { stock } }`,
			`Anonymous Subscription must select only one top level field.`},
		{`subscription { __typename }`, `Anonymous Subscription must not select an introspection top level field.`},
	} {
		r := g.query(t, tc.doc)
		if len(r.Errors) != 1 || r.Errors[0].code() != "GRAPHQL_VALIDATION_FAILED" || r.Errors[0].Message != tc.msg {
			t.Errorf("%s: %d %s, want GRAPHQL_VALIDATION_FAILED %q", tc.doc, r.status, r.raw, tc.msg)
		}
	}
	if n := g.calls.count(); len(n) != 0 {
		t.Errorf("upstream calls %v, want none", n)
	}
	events, drop := g.sse(t, `subscription S { ...F watchInventory(id: "p1", interval: "0.01s") { sequence } } fragment F on Subscription { watchInventory(id: "p1", interval: "0.01s") { stock } }`)
	defer drop()
	ev := next(t, events)
	var got struct {
		W struct{ Stock, Sequence string } `json:"watchInventory"`
	}
	if err := json.Unmarshal(ev.resp.Data, &got); ev.name != "next" || len(ev.resp.Errors) > 0 || err != nil || got.W.Stock == "" || got.W.Sequence != "1" {
		t.Errorf("one field selected twice: event %q %s %v", ev.name, ev.resp.Data, ev.resp.Errors)
	}
}

// A subscription's top level takes no @skip or @include, as the specification's validation has it
// (graphql-spec#860, graphql-js): whether one leaves a field out is known only when the operation
// runs, so validation could not count its fields. Used on a field, an inline fragment or a
// fragment spread at that level, written out or in a fragment, with a literal or a variable, either
// fails validation, at each directive, and nothing runs; below the top level they are ordinary.
func TestSubscriptionTopLevelConditions(t *testing.T) {
	g := startGateway(t, setup{})
	type at struct{ Line, Column float64 }
	for _, tc := range []struct {
		doc  string
		vars []any
		msg  string
		at   []at
	}{
		{`subscription { a: watchInventory(id: "p1") { stock } b: watchInventory(id: "p2") @skip(if: true) { stock } }`, nil,
			"Anonymous Subscription must not use `@skip` or `@include` directives in the top level selection.", []at{{1, 83}}},
		{`subscription S($on: Boolean!) { watchInventory(id: "p1") @include(if: $on) { stock } }`, []any{"on", true},
			"Subscription \"S\" must not use `@skip` or `@include` directives in the top level selection.", []at{{1, 59}}},
		{`subscription S { ... @include(if: true) { watchInventory(id: "p1") { stock } } ...F @skip(if: false) } fragment F on Subscription { watchInventory(id: "p1") { sequence } }`, nil,
			"Subscription \"S\" must not use `@skip` or `@include` directives in the top level selection.", []at{{1, 23}, {1, 86}}},
		{`subscription S { ...F } fragment F on Subscription { watchInventory(id: "p1") @include(if: true) { stock } }`, nil,
			"Subscription \"S\" must not use `@skip` or `@include` directives in the top level selection.", []at{{1, 80}}},
	} {
		r := g.query(t, tc.doc, tc.vars...)
		if len(r.Errors) != 1 || r.Errors[0].code() != "GRAPHQL_VALIDATION_FAILED" || r.Errors[0].Message != tc.msg {
			t.Errorf("%s: %d %s, want GRAPHQL_VALIDATION_FAILED %q", tc.doc, r.status, r.raw, tc.msg)
			continue
		}
		var got []at
		for _, l := range r.Errors[0].Locations {
			m, _ := l.(map[string]any)
			got = append(got, at{Line: m["line"].(float64), Column: m["column"].(float64)})
		}
		if !slices.Equal(got, tc.at) {
			t.Errorf("%s: locations %v, want %v", tc.doc, got, tc.at)
		}
	}
	if n := g.calls.count(); len(n) != 0 {
		t.Errorf("upstream calls %v, want none", n)
	}
	events, drop := g.sse(t, `subscription { watchInventory(id: "p1", interval: "0.01s") { stock sequence @skip(if: true) } }`)
	defer drop()
	ev := next(t, events)
	if ev.name != "next" || len(ev.resp.Errors) > 0 || compact(ev.resp.Data) == "" || strings.Contains(string(ev.resp.Data), "sequence") {
		t.Errorf("@skip below the top level: event %q %s %v", ev.name, ev.resp.Data, ev.resp.Errors)
	}
}
