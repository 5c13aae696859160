package resolvers_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/routing"
)

var (
	hLeft = policy.NewHeaderName("X-Left")
	hFrom = policy.NewHeaderName("X-From")
)

// rankingCaller stands for the policies admitting each call: before routing it, it hands the front
// a header set ranked by method, as a rate limit ranks its RateLimit-* by the tokens left.
type rankingCaller struct {
	resolvers.Caller
	rank map[string]int64
}

func (c rankingCaller) admit(ctx context.Context, method string) {
	rank, ok := c.rank[method]
	if !ok {
		return
	}
	call := &policy.Call{Ctx: ctx, Method: method}
	call.SetResponseHeaders(rank,
		policy.Header{Name: hLeft, Value: strconv.FormatInt(rank, 10)},
		policy.Header{Name: hFrom, Value: method})
}

func (c rankingCaller) Route(ctx context.Context, method string, md metadata.MD) (routing.Upstream, error) {
	c.admit(ctx, method)
	return c.Caller.Route(ctx, method, md)
}

func (c rankingCaller) CallUnary(ctx context.Context, method string, md metadata.MD, req, resp any, opts ...grpc.CallOption) error {
	c.admit(ctx, method)
	return c.Caller.CallUnary(ctx, method, md, req, resp, opts...)
}

// TestResponseHeadersLowestRank: one HTTP response answers an operation's field calls, admitted
// concurrently; it carries the header set of the lowest rank among them (a rate limit's fewest
// tokens left), whole, also when a call then fails, and on a persisted operation's REST route.
func TestResponseHeadersLowestRank(t *testing.T) {
	const two = `query Two { getUser(id: "1") { name } getProduct(id: "p1") { id } listOrders(userId: "1") { orders { id } } }`
	g := startGateway(t, setup{
		opts: resolvers.Options{
			PersistedOperations: map[string]string{sha(two): two},
			Routes:              []resolvers.Route{{Path: "/v1/two", Operation: sha(two)}},
		},
		caller: func(c resolvers.Caller) resolvers.Caller {
			return rankingCaller{Caller: c, rank: map[string]int64{mGetUser: 5, mGetProduct: 2, mListOrders: 7}}
		},
	})
	for range 5 { // the calls run concurrently: whichever admits first, the lowest rank wins
		r := g.query(t, two).ok(t)
		if r.header.Get("X-Left") != "2" || r.header.Get("X-From") != mGetProduct {
			t.Fatalf("headers X-Left %q, X-From %q; want 2 and %s, the lowest rank's whole set", r.header.Get("X-Left"), r.header.Get("X-From"), mGetProduct)
		}
	}
	// A call the backend fails keeps its set.
	r := g.query(t, `{ getUser(id: "99") { name } }`)
	if len(r.Errors) == 0 || r.header.Get("X-Left") != "5" {
		t.Errorf("a failed call: X-Left %q, errors %v; want 5 and the NOT_FOUND", r.header.Get("X-Left"), r.Errors)
	}
	// A query calling no method carries no set.
	if r := g.query(t, `{ __typename }`).ok(t); r.header.Get("X-Left") != "" {
		t.Errorf("a query without calls carries X-Left %q", r.header.Get("X-Left"))
	}
	// A persisted operation's REST route too.
	w := httptest.NewRecorder()
	if !g.handler.(*resolvers.Handler).ServeRoute(w, httptest.NewRequest("GET", "/v1/two", nil)) {
		t.Fatal("the route was not served")
	}
	body, _ := io.ReadAll(w.Result().Body)
	if w.Code != 200 || w.Header().Get("X-Left") != "2" {
		t.Errorf("route: status %d, X-Left %q, want 200 and 2: %s", w.Code, w.Header().Get("X-Left"), body)
	}
}

// gatedCaller is a rankingCaller whose streams open only once gate is closed.
type gatedCaller struct {
	rankingCaller
	gate chan struct{}
}

func (c gatedCaller) Route(ctx context.Context, method string, md metadata.MD) (routing.Upstream, error) {
	up, err := c.rankingCaller.Route(ctx, method, md)
	up.Conn = gatedConn{ClientConnInterface: up.Conn, gate: c.gate}
	return up, err
}

type gatedConn struct {
	grpc.ClientConnInterface
	gate chan struct{}
}

func (c gatedConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	select {
	case <-c.gate:
		return c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestSubscriptionOverSSEResponseHeaders: a subscription over Server-Sent Events gets the header set
// its call's admission hands over (a rate limit's RateLimit-*), and gets it when the call is
// admitted: before the upstream stream is even open, let alone its first message.
func TestSubscriptionOverSSEResponseHeaders(t *testing.T) {
	gate := make(chan struct{})
	open := sync.OnceFunc(func() { close(gate) })
	defer open()
	g := startGateway(t, setup{caller: func(c resolvers.Caller) resolvers.Caller {
		return gatedCaller{rankingCaller{Caller: c, rank: map[string]int64{mWatchInventory: 3}}, gate}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body := `{"query": "subscription { watchInventory(id: \"p1\", interval: \"0.01s\") { sequence } }"}`
	hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.url, strings.NewReader(body))
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(hr) // returns with the header: the stream is not open yet
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("content type %q", ct)
	}
	if res.Header.Get("X-Left") != "3" || res.Header.Get("X-From") != mWatchInventory {
		t.Errorf("headers X-Left %q, X-From %q; want 3 and %s", res.Header.Get("X-Left"), res.Header.Get("X-From"), mWatchInventory)
	}
	open()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "data: ") {
			if !strings.Contains(line, `"sequence":"1"`) {
				t.Errorf("first event %s", line)
			}
			return
		}
	}
	t.Fatalf("no event: %v", sc.Err())
}
