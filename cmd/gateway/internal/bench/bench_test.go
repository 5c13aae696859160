package bench_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/cmd/gateway/internal/bench"
	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/routing"
)

// startBackend serves the bench backend on loopback for one test.
func startBackend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bench.ServeBackend(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("backend: %v", err)
		}
	})
	return ln.Addr().String()
}

// startGateway serves the bench gateway in front of backend on loopback for one test.
func startGateway(t *testing.T, backend string) string {
	t.Helper()
	addr, _ := serveGateway(t, backend, bench.GatewayOptions{})
	return addr
}

// serveGateway serves a bench gateway with o in front of backend on loopback, built as a run's
// gateway process builds it, for one test. It returns the gateway's address and a function that stops
// it and returns once it has, after its calls have ended; the test's cleanup calls it too.
func serveGateway(t *testing.T, backend string, o bench.GatewayOptions) (addr string, stop func()) {
	t.Helper()
	srv, err := bench.NewGateway(backend, o)
	if err != nil {
		t.Fatal(err)
	}
	snap := srv.Snapshot()
	// The gateway must know the call kinds, or it would not take its cheaper paths.
	for method, want := range map[string]routing.CallKind{
		usersv1.UserService_GetUser_FullMethodName:              routing.KindUnary,
		testgrpc.TestService_StreamingOutputCall_FullMethodName: routing.KindServerStream,
		testgrpc.TestService_StreamingInputCall_FullMethodName:  routing.KindClientStream,
	} {
		if kind, known, ok := snap.Method(method); !known || !ok || kind != want {
			t.Errorf("gateway knows %s as %v (known %v, ok %v), want %v", method, kind, known, ok, want)
		}
	}
	dataLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- srv.ServeListeners(ctx, dataLn, adminLn, ready) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway: %v", err)
		}
	})
	t.Cleanup(stop)
	<-ready
	return dataLn.Addr().String(), stop
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// checkSane checks what any load against a working server must satisfy.
func checkSane(t *testing.T, res bench.Result) {
	t.Helper()
	if res.Errors != 0 {
		t.Errorf("%d errors, first: %v", res.Errors, res.FirstErr)
	}
	if res.Calls == 0 || len(res.Latencies) != res.Calls {
		t.Fatalf("%d calls with %d latencies", res.Calls, len(res.Latencies))
	}
	if !slices.IsSorted(res.Latencies) {
		t.Error("latencies are not sorted")
	}
	p50, p99 := res.Percentile(0.5), res.Percentile(0.99)
	if p50 <= 0 || p50 > p99 || p99 > res.Latencies[len(res.Latencies)-1] {
		t.Errorf("p50 %v, p99 %v, max %v: out of order", p50, p99, res.Latencies[len(res.Latencies)-1])
	}
	if res.Rate() <= 0 || res.Elapsed <= 0 {
		t.Errorf("rate %v over %v", res.Rate(), res.Elapsed)
	}
}

func TestUnaryLoad(t *testing.T) {
	backend := startBackend(t)
	for name, addr := range map[string]string{"direct": backend, "gateway": startGateway(t, backend)} {
		t.Run(name, func(t *testing.T) {
			clients := []usersv1.UserServiceClient{
				usersv1.NewUserServiceClient(dial(t, addr)),
				usersv1.NewUserServiceClient(dial(t, addr)),
			}
			res := bench.Load{Concurrency: 8, Duration: 300 * time.Millisecond}.Run(context.Background(), func(ctx context.Context, w int) error {
				u, err := clients[w%len(clients)].GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
				if err == nil && u.GetName() != "Ada Lovelace" {
					err = errors.New("wrong user " + u.GetName())
				}
				return err
			})
			checkSane(t, res)
		})
	}
}

func TestLoadCountsErrorsAndStopsOnTime(t *testing.T) {
	var n int
	errOdd := errors.New("odd")
	start := time.Now()
	res := bench.Load{Concurrency: 1, Duration: 50 * time.Millisecond}.Run(context.Background(), func(ctx context.Context, _ int) error {
		n++
		time.Sleep(time.Millisecond)
		if n%2 == 1 {
			return errOdd
		}
		return nil
	})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a 50ms load took %v", took)
	}
	if res.Calls == 0 || res.Errors == 0 || !errors.Is(res.FirstErr, errOdd) {
		t.Errorf("calls %d, errors %d, first %v", res.Calls, res.Errors, res.FirstErr)
	}
	if d := res.Calls - res.Errors; d < -1 || d > 1 {
		t.Errorf("alternating calls: %d ok, %d failed", res.Calls, res.Errors)
	}
}

func TestStreams(t *testing.T) {
	backend := startBackend(t)
	for name, addr := range map[string]string{"direct": backend, "gateway": startGateway(t, backend)} {
		t.Run(name, func(t *testing.T) {
			conns := []grpc.ClientConnInterface{dial(t, addr), dial(t, addr)}
			for _, cc := range conns { // connect before the window opens
				if _, err := testgrpc.NewTestServiceClient(cc).EmptyCall(context.Background(), new(testgrpc.Empty)); err != nil {
					t.Fatal(err)
				}
			}
			s := bench.Stream{Streams: 2, Duration: 300 * time.Millisecond, Size: 16 << 10, PerCall: 8}
			for dir, res := range map[string]bench.StreamResult{
				"download": s.Download(context.Background(), conns),
				"upload":   s.Upload(context.Background(), conns),
			} {
				if res.Errors != 0 {
					t.Errorf("%s: %d errors, first: %v", dir, res.Errors, res.FirstErr)
				}
				// Every message carries a 16 KiB payload plus a few bytes of framing.
				if res.Bytes < 16<<10 || res.Calls == 0 || res.MiBps() <= 0 {
					t.Errorf("%s: %d bytes in %d calls, %.1f MiB/s", dir, res.Bytes, res.Calls, res.MiBps())
				}
				if dir == "upload" && res.Bytes%(16<<10) != 0 {
					t.Errorf("upload: %d bytes acknowledged, not a whole number of payloads", res.Bytes)
				}
			}
		})
	}
}

// TestPolicyChain: the Policies target's gateway serves GetUser to a caller with a demo token with
// the users scope, telling it about the rate limit, refuses callers without one, and writes an access
// log line per call that names the method and the request id, never the token.
func TestPolicyChain(t *testing.T) {
	backend := startBackend(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	p := bench.PolicyChain(logPath, "")
	addr, stop := serveGateway(t, backend, bench.GatewayOptions{Policies: &p})
	users := usersv1.NewUserServiceClient(dial(t, addr))
	req := &usersv1.GetUserRequest{Id: "1"}
	token := func(scopes ...string) string {
		tok, err := demo.Token("bench", scopes, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := token(bench.UsersScope)
	call := func(tok string) (metadata.MD, error) {
		ctx := context.Background()
		if tok != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok, "x-request-id", "policy-test")
		}
		var header metadata.MD
		u, err := users.GetUser(ctx, req, grpc.Header(&header))
		if err == nil && u.GetName() == "" {
			err = errors.New("a user without a name")
		}
		return header, err
	}

	header, err := call(good)
	if err != nil {
		t.Fatalf("GetUser with the token: %v", err)
	}
	for _, name := range []string{"ratelimit", "ratelimit-policy"} {
		if len(header.Get(name)) == 0 {
			t.Errorf("no %s in the response header %v", name, header)
		}
	}
	if _, err := call(""); status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetUser without a token: %v, want code %v", err, codes.Unauthenticated)
	}
	if _, err := call(token("orders:read")); status.Code(err) != codes.PermissionDenied {
		t.Errorf("GetUser with a token without %s: %v, want code %v", bench.UsersScope, err, codes.PermissionDenied)
	}

	stop() // every call has been logged once the gateway has stopped
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), good) {
		t.Error("the access log holds the token")
	}
	var logged int
	for line := range strings.Lines(string(b)) {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		if l["method"] == usersv1.UserService_GetUser_FullMethodName && l["grpc_code"] == "OK" {
			logged++
			if l["header.x-request-id"] != "policy-test" {
				t.Errorf("access log line without the request id: %s", line)
			}
		}
	}
	if logged != 1 {
		t.Errorf("%d successful GetUser calls in the access log, want 1:\n%s", logged, b)
	}
}

func TestCPUReader(t *testing.T) {
	r := bench.NewCPUReader()
	if hz := r.Hz(); hz <= 0 {
		t.Fatalf("clock ticks %d", hz)
	}
	before, err := r.Process(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn at least two ticks of CPU.
	x := 1
	for deadline := time.Now().Add(60 * time.Millisecond); time.Now().Before(deadline); {
		for i := range 10000 {
			x = x*31 + i
		}
	}
	_ = x
	after, err := r.Process(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("CPU time went from %v to %v while spinning", before, after)
	}
	tree, err := r.Tree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if tree < after {
		t.Errorf("process tree CPU %v < process CPU %v", tree, after)
	}
	if _, err := r.Process(1 << 30); err == nil {
		t.Error("CPU time of a process that cannot exist: no error")
	}
}

func TestParseStat(t *testing.T) {
	// comm may hold spaces and parentheses: fields count from the last ')'.
	line := "4242 (we (ird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 3 0 1000 1000 100\n"
	ppid, ticks, err := bench.ParseStat(line)
	if err != nil || ppid != 17 || ticks != 281 {
		t.Errorf("ParseStat = ppid %d, ticks %d, %v; want 17, 281, nil", ppid, ticks, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 no-paren S 1", "1 (x) S notanumber 0 0 0 0 0 0 0 0 0 1 1"} {
		if _, _, err := bench.ParseStat(bad); err == nil {
			t.Errorf("ParseStat(%q): no error", bad)
		}
	}
}

func TestClockTicksFromAuxv(t *testing.T) {
	aux := func(pairs ...uint64) []byte {
		b := make([]byte, 8*len(pairs))
		for i, v := range pairs {
			binary.NativeEndian.PutUint64(b[8*i:], v)
		}
		return b
	}
	if got := bench.ClockTicksFromAuxv(aux(6, 4096, 17, 250, 0, 0)); got != 250 {
		t.Errorf("AT_CLKTCK 250: got %d", got)
	}
	if got := bench.ClockTicksFromAuxv(aux(6, 4096, 0, 0, 17, 250)); got != 0 {
		t.Errorf("AT_CLKTCK after AT_NULL: got %d, want 0", got)
	}
}

// goalWant is what TestReport expects of a goal line: its status, its value unless skipped, and why
// it is skipped, if it is.
type goalWant struct {
	status string
	value  float64
	why    string
}

// checkGoals checks rep's goal lines named in want.
func checkGoals(t *testing.T, rep *bench.Report, want map[string]goalWant) {
	t.Helper()
	want = maps.Clone(want)
	for _, g := range rep.Goals {
		w, ok := want[g.Name]
		if !ok {
			continue
		}
		delete(want, g.Name)
		if g.Status != w.status || g.Why != w.why || (w.status != "SKIP" && math.Abs(g.Value-w.value) > 1e-9) {
			t.Errorf("%s: %s %v (%q), want %s %v (%q)", g.Name, g.Status, g.Value, g.Why, w.status, w.value, w.why)
		}
	}
	for name := range want {
		t.Errorf("no goal %q", name)
	}
}

func TestReport(t *testing.T) {
	sample := func(round int, phase, target string, rate, p50 float64) bench.Figures {
		unit := "req"
		if phase == bench.PhaseDownload || phase == bench.PhaseUpload {
			unit = "MiB"
		}
		return bench.Figures{Round: round, Phase: phase, Target: target, Unit: unit, Rate: rate, P50us: p50, P99us: 2 * p50, Count: rate}
	}
	var samples, policies []bench.Figures
	for round, noise := range []float64{1, 0.5, 1.1} { // round 2 is slow for everyone
		r := round + 1
		samples = append(samples,
			sample(r, bench.PhaseUnary, bench.Direct, 20000*noise, 2000),
			sample(r, bench.PhaseUnary, bench.Gateway, 10000*noise, 4000),
			sample(r, bench.PhaseUnary, bench.Nginx, 12000*noise, 3000),
			sample(r, bench.PhaseLatency, bench.Direct, 5000, 150+float64(r)),
			sample(r, bench.PhaseLatency, bench.Gateway, 4000, 200+float64(r)),
			sample(r, bench.PhaseDownload, bench.Direct, 1000*noise, 0),
			sample(r, bench.PhaseDownload, bench.Gateway, 900*noise, 0),
			// No upload figures for the gateway: that goal must be skipped, not failed.
			sample(r, bench.PhaseUpload, bench.Direct, 1000, 0),
		)
		unary := sample(r, bench.PhaseUnary, bench.Policies, 9500*noise, 4200)
		unary.MiddleCPU = 30 * noise // the gateway's is 20 * noise
		policies = append(policies, unary, sample(r, bench.PhaseLatency, bench.Policies, 3500, 230+float64(r)))
	}
	for i := range samples {
		if s := &samples[i]; s.Target == bench.Gateway && s.Phase == bench.PhaseUnary {
			s.MiddleCPU = 20 * s.Rate / 10000
		}
	}
	targets := []string{bench.Direct, bench.Gateway, bench.Policies, bench.Nginx}
	all := append(slices.Clone(samples), policies...)
	rep := bench.NewReportOf(bench.Options{Rounds: 3}, targets, all)
	checkGoals(t, rep, map[string]goalWant{
		"gateway/direct unary throughput":               {status: "PASS", value: 0.5},
		"gateway/nginx unary throughput":                {status: "MISS", value: 10.0 / 12},
		"added p50 at 1 in flight (gateway - direct)":   {status: "PASS", value: 50},
		"gateway/direct server->client MiB/s":           {status: "PASS", value: 0.9},
		"gateway/direct client->server MiB/s":           {status: "SKIP"},
		"policies/gateway unary throughput":             {status: "PASS", value: 0.95},
		"policies/gateway middle CPU per unary request": {status: "INFO", value: 1.5},
		"added p50 at 1 in flight (policies - gateway)": {status: "INFO", value: 30},
	})
	for _, m := range rep.Medians {
		if m.Phase == bench.PhaseUnary && m.Target == bench.Direct && m.Rate != 20000 {
			t.Errorf("median direct rate %v, want 20000", m.Rate)
		}
	}

	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"unary GetUser, 64 in flight over 4 connections", "MISS  gateway/nginx unary throughput", "0.50x",
		"PASS  policies/gateway unary throughput"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text report lacks %q:\n%s", s, text.String())
		}
	}
	// The policies target has a row in the unary and latency tables: target, req/s, vs direct, p50.
	var rows [][]string
	for line := range strings.Lines(text.String()) {
		if f := strings.Fields(line); len(f) == 9 && f[0] == bench.Policies { // a row has 9 columns
			rows = append(rows, f[:4])
		}
	}
	if want := [][]string{{"policies", "9500", "0.47x", "4.20ms"}, {"policies", "3500", "0.70x", "232us"}}; !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("policies rows %q, want %q:\n%s", rows, want, text.String())
	}

	// A ratio just under its threshold is not printed as the threshold itself.
	near := slices.Clone(all)
	for i := range near {
		if s := &near[i]; s.Target == bench.Policies && s.Phase == bench.PhaseUnary {
			s.Rate = 8960 * s.Rate / 9500 // 0.896 of the gateway's
		}
	}
	text.Reset()
	if err := bench.NewReportOf(bench.Options{Rounds: 3}, targets, near).WriteText(&text); err != nil {
		t.Fatal(err)
	}
	var line string
	for l := range strings.Lines(text.String()) {
		if strings.Contains(l, "policies/gateway unary throughput") {
			line = l
		}
	}
	if f := strings.Fields(line); len(f) < 11 || f[0] != "MISS" || f[4] != "0.896x" || f[9] != "0.896x" {
		t.Errorf("the goal line reads %q, want MISS and 0.896x, also in each round:\n%s", line, text.String())
	}

	// A run with --skip-policies says why the policies lines are missing.
	skipped := bench.NewReportOf(bench.Options{Rounds: 3, SkipPolicies: true}, []string{bench.Direct, bench.Gateway, bench.Nginx}, samples)
	why := "policies skipped (--skip-policies)"
	checkGoals(t, skipped, map[string]goalWant{
		"gateway/direct unary throughput":               {status: "PASS", value: 0.5},
		"policies/gateway unary throughput":             {status: "SKIP", why: why},
		"policies/gateway middle CPU per unary request": {status: "SKIP", why: why},
		"added p50 at 1 in flight (policies - gateway)": {status: "SKIP", why: why},
	})
	text.Reset()
	if err := skipped.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), why) {
		t.Errorf("text report lacks %q:\n%s", why, text.String())
	}
	path := filepath.Join(t.TempDir(), "bench.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back bench.Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Samples) != len(all) || len(back.Goals) != len(rep.Goals) {
		t.Errorf("JSON round trip: %d samples, %d goals", len(back.Samples), len(back.Goals))
	}
}
