package server_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// TestClientDeadlineIsDeadlineExceeded: calls whose client's deadline passes while the backend
// works (it waits until its call's context ends) are DEADLINE_EXCEEDED in the metrics and the access
// log on every front, and count nothing against the endpoint. The native gRPC calls come from a raw
// HTTP/2 client that never resets its streams, so that the gateway's own deadline ends each of
// them: grpc-go ends a stream at its deadline by cancelling the stream's context, racing the
// deadline's timer, and most such calls were counted CANCELLED; a backend's reset at the same
// deadline, reported before the gateway's timer had run, counted as the endpoint's failure. The
// client is told DEADLINE_EXCEEDED when the gateway still answers, or its stream is reset (CANCEL),
// as grpc-go's server does at a deadline; never another status.
func TestClientDeadlineIsDeadlineExceeded(t *testing.T) {
	const (
		calls       = 20
		webCalls    = 3
		grpcTimeout = "20m"
		method      = "/shop.users.v1.UserService/GetUser"
	)
	lines := make(accessLines, calls+2*webCalls)
	g := startGateway(t, harnessOptions{
		shop:   shop.Options{Latency: time.Hour}, // each call waits for its context to end
		config: func(c *config.Config) { c.Policies.AccessLog.FlushInterval = -1 },
		server: []server.Option{server.WithAccessLogWriter(lines)},
	})
	ctx := testContext(t)

	got := rawGRPCCalls(t, g.addr, method, grpcTimeout, &usersv1.GetUserRequest{Id: "1"}, calls)
	for answer, n := range got {
		if answer != "grpc-status 4" && answer != "RST_STREAM CANCEL" {
			t.Errorf("%d native gRPC calls were answered %s, want grpc-status 4 or RST_STREAM CANCEL", n, answer)
		}
	}
	for range webCalls {
		resp, _ := grpcWebCall(t, g.addr, method, &usersv1.GetUserRequest{Id: "1"}, false, http.Header{"Grpc-Timeout": {grpcTimeout}})
		if s := resp.Header.Get("Grpc-Status"); s != "4" {
			t.Errorf("gRPC-Web: Grpc-Status %q, want 4", s)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+g.addr+"/v1/users/1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Grpc-Timeout", grpcTimeout)
		if resp, _ := doRequest(t, http.DefaultClient, req); resp.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("REST: %d, want 504", resp.StatusCode)
		}
	}

	logged := map[string]int{} // front and code
	for range calls + 2*webCalls {
		select {
		case b := <-lines:
			var e struct {
				Front, Method string
				Code          string `json:"grpc_code"`
			}
			if err := json.Unmarshal(b, &e); err != nil || e.Method != method {
				t.Fatalf("access-log line %s, want one of %s (%v)", b, method, err)
			}
			logged[e.Front+" "+e.Code]++
		case <-ctx.Done():
			t.Fatalf("access log: %v lines, want %d", logged, calls+2*webCalls)
		}
	}
	want := map[string]int{"grpc DEADLINE_EXCEEDED": calls, "grpc-web DEADLINE_EXCEEDED": webCalls, "rest DEADLINE_EXCEEDED": webCalls}
	if fmt.Sprint(logged) != fmt.Sprint(want) {
		t.Errorf("access log codes %v, want %v", logged, want)
	}
	// Each call's metrics are recorded before its access-log line is written.
	series := `{code="DEADLINE_EXCEEDED",front="%s",method="` + method + `"} %d`
	wantMetrics(t, g,
		"gateway_requests_total"+fmt.Sprintf(series, "grpc", calls),
		"gateway_request_errors_total"+fmt.Sprintf(series, "grpc", calls),
		"gateway_request_errors_total"+fmt.Sprintf(series, "grpc-web", webCalls),
		"gateway_request_errors_total"+fmt.Sprintf(series, "rest", webCalls))
	code, body := httpGet(t, "http://"+g.admin+"/v1/upstreams")
	var upstreams struct {
		Clusters []struct {
			Name      string
			Endpoints []struct {
				Breaker             string
				Ejections           string
				ConsecutiveFailures int
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &upstreams); code != http.StatusOK || err != nil || len(upstreams.Clusters) == 0 {
		t.Fatalf("/v1/upstreams: %d %s (%v)", code, body, err)
	}
	for _, c := range upstreams.Clusters {
		for _, e := range c.Endpoints {
			if e.Breaker != "closed" || e.ConsecutiveFailures != 0 || e.Ejections != "0" {
				t.Errorf("cluster %s after calls their clients' deadlines ended: endpoint %+v, want no failures counted", c.Name, e)
			}
		}
	}
}

// rawGRPCCalls makes n unary calls of method with req, one after the other, on one HTTP/2
// connection: each sends its headers, with grpc-timeout timeout, and its message with END_STREAM,
// and is never reset by the client. It returns how many calls ended which way: "grpc-status N" or
// "RST_STREAM CODE".
func rawGRPCCalls(t *testing.T, addr, method, timeout string, req proto.Message, n int) map[string]int {
	t.Helper()
	fr := dialH2C(t, addr, 20*time.Second)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	msg, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	body := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
	body = append(body, msg...)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	got := map[string]int{}
	for i := range n {
		id := uint32(2*i + 1)
		hb.Reset()
		for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", method}, {":authority", addr},
			{"content-type", "application/grpc"}, {"te", "trailers"}, {"grpc-timeout", timeout}} {
			if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
				t.Fatal(err)
			}
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if err := fr.WriteData(id, true, body); err != nil {
			t.Fatal(err)
		}
		got[rawCallEnd(t, fr, id)]++
	}
	return got
}

// rawCallEnd reads fr's frames until stream id ends, answering the connection's SETTINGS and
// PINGs, and returns how it ended: "grpc-status N" or "RST_STREAM CODE".
func rawCallEnd(t *testing.T, fr *http2.Framer, id uint32) string {
	t.Helper()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("stream %d: %v", id, err)
		}
		if f.Header().StreamID != id && f.Header().StreamID != 0 {
			continue
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := fr.WriteSettingsAck(); err != nil {
					t.Fatal(err)
				}
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				if err := fr.WritePing(true, f.Data); err != nil {
					t.Fatal(err)
				}
			}
		case *http2.RSTStreamFrame:
			return "RST_STREAM " + f.ErrCode.String()
		case *http2.MetaHeadersFrame:
			if f.StreamEnded() {
				for _, h := range f.RegularFields() {
					if h.Name == "grpc-status" {
						return "grpc-status " + h.Value
					}
				}
				return "no grpc-status"
			}
		}
	}
}
