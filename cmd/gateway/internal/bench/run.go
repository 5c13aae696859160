package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// The targets: the backend itself, and the proxies in front of it.
const (
	Direct   = "direct"
	Gateway  = "gateway"
	Policies = "policies" // a second gateway, serving with PolicyChain
	Nginx    = "nginx"
)

// The phases of a round.
const (
	PhaseUnary    = "unary"    // GetUser at Concurrency in flight over Conns connections
	PhaseLatency  = "latency"  // GetUser with one call in flight
	PhaseDownload = "download" // StreamingOutputCall: server to client
	PhaseUpload   = "upload"   // StreamingInputCall: client to server
)

// unaryRequest is the call of the unary loads; the backend's seed data has user "1".
var unaryRequest = &usersv1.GetUserRequest{Id: "1"}

// stopGrace bounds how long a child may take to stop once asked.
const stopGrace = 5 * time.Second

// target is one way to reach the backend, with the connections the loads use.
type target struct {
	name      string
	addr      string
	middle    func() (time.Duration, error) // CPU used so far by the process in the middle; nil for direct
	unaryOnly bool                          // measured in the unary phases only, not the streaming ones
	conns     []*grpc.ClientConn
	users     []usersv1.UserServiceClient
	ifaces    []grpc.ClientConnInterface
}

// dial connects to addr; every call on the connection carries md.
func dial(addr string, md credentials.PerRPCCredentials) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(md))
}

// newTarget connects to a target with the run's connections.
func (r *runner) newTarget(name, addr string, middle func() (time.Duration, error)) (*target, error) {
	t := &target{name: name, addr: addr, middle: middle}
	for range r.o.Conns {
		cc, err := dial(addr, r.md)
		if err != nil {
			t.close()
			return nil, err
		}
		t.conns = append(t.conns, cc)
		t.users = append(t.users, usersv1.NewUserServiceClient(cc))
		t.ifaces = append(t.ifaces, cc)
	}
	return t, nil
}

func (t *target) close() {
	for _, cc := range t.conns {
		cc.Close()
	}
}

// probeUsers makes one GetUser call on addr, with the run's metadata, and checks the answer.
func (r *runner) probeUsers(ctx context.Context, addr string) error {
	cc, err := dial(addr, r.md)
	if err != nil {
		return err
	}
	defer cc.Close()
	u, err := usersv1.NewUserServiceClient(cc).GetUser(ctx, unaryRequest)
	if err != nil {
		return err
	}
	if u.GetName() == "" {
		return fmt.Errorf("GetUser(%q) answered a user without a name", unaryRequest.GetId())
	}
	return nil
}

// probeReady asks the gateway's admin port whether it serves.
func probeReady(ctx context.Context, admin string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz: %s", resp.Status)
	}
	return nil
}

// runner holds a run's processes and targets.
type runner struct {
	o        Options
	md       callMetadata // sent with every call, to every target
	cpu      *CPUReader
	children []*child
	backend  *child
	targets  []*target
	nginxErr error // why nginx is not measured, if it is not
}

// Run starts the backend, the gateway, the gateway with PolicyChain (unless skipped) and nginx (if
// installed and not skipped), measures every phase on every target for o.Rounds rounds, stops
// everything it started, and returns the report. Every call, to any target, carries a demo token and an
// x-request-id, which only the Policies target checks and logs. A ctx that ends stops the run early
// with ctx's error.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	md, err := newCallMetadata(time.Now())
	if err != nil {
		return nil, err
	}
	r := &runner{o: o, md: md, cpu: NewCPUReader()}
	dir, err := os.MkdirTemp("", "gateway-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	defer func() { err = errors.Join(err, r.shutdown()) }()

	if err := r.start(ctx, dir); err != nil {
		return nil, err
	}
	samples, err := r.measureAll(ctx)
	if err != nil {
		return nil, err
	}
	return newReport(o, r.cpu.Hz(), r.targetNames(), r.nginxErr, samples), nil
}

func (r *runner) targetNames() []string {
	names := make([]string, len(r.targets))
	for i, t := range r.targets {
		names[i] = t.name
	}
	return names
}

// start brings up the children and connects to every target.
func (r *runner) start(ctx context.Context, dir string) error {
	backendLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	backendAddr := backendLn.Addr().String()
	argv := append(append([]string(nil), r.o.Command...), BackendCommand, "--"+FlagListenFD, "3")
	r.backend, err = startChild("backend", argv, []net.Listener{backendLn}, r.o.ChildOutput)
	backendLn.Close()
	if err != nil {
		return err
	}
	r.children = append(r.children, r.backend)
	if err := waitReady(ctx, r.backend, func(ctx context.Context) error { return r.probeUsers(ctx, backendAddr) }); err != nil {
		return err
	}
	direct, err := r.newTarget(Direct, backendAddr, nil)
	if err != nil {
		return err
	}
	r.targets = append(r.targets, direct)

	var profile, policiesProfile []string
	if p := r.o.GatewayCPUProfile; p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		profile = []string{"--" + FlagCPUProfile, abs}
		policiesProfile = []string{"--" + FlagCPUProfile, abs + ".policies"}
	}
	gw, err := r.startGateway(ctx, Gateway, backendAddr, profile...)
	if err != nil {
		return err
	}
	r.targets = append(r.targets, gw)

	if !r.o.SkipPolicies {
		t, err := r.startGateway(ctx, Policies, backendAddr, append(policiesProfile,
			"--"+FlagPolicies, "--"+FlagAccessLog, filepath.Join(dir, "access.log"),
			"--"+FlagSampleRatio, r.o.PoliciesSampleRatio)...)
		if err != nil {
			return err
		}
		t.unaryOnly = true
		r.targets = append(r.targets, t)
	}

	switch bin := r.o.Nginx; {
	case r.o.SkipNginx:
		r.nginxErr = errors.New("skipped (--skip-nginx)")
	case bin == "" && FindNginx() == "":
		r.nginxErr = errors.New("no nginx on PATH (apt-get install -y nginx)")
	default:
		if bin == "" {
			bin = FindNginx()
		}
		c, addr, err := startNginx(ctx, bin, dir, backendAddr, r.probeUsers)
		if err != nil {
			return err
		}
		r.children = append(r.children, c)
		pid := c.Pid()
		t, err := r.newTarget(Nginx, addr, func() (time.Duration, error) { return r.cpu.Tree(pid) })
		if err != nil {
			return err
		}
		t.unaryOnly = true
		r.targets = append(r.targets, t)
	}
	return nil
}

// startGateway starts a gateway child in front of the backend, with flags added to its command
// line, and connects to it as target name once it serves.
func (r *runner) startGateway(ctx context.Context, name, backendAddr string, flags ...string) (*target, error) {
	dataLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer dataLn.Close()
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer adminLn.Close()
	argv := append(append([]string(nil), r.o.Command...), GatewayCommand,
		"--"+FlagListenFD, "3", "--"+FlagAdminListenFD, "4", "--"+FlagBackend, backendAddr)
	argv = append(argv, flags...)
	c, err := startChild(name, argv, []net.Listener{dataLn, adminLn}, r.o.ChildOutput)
	if err != nil {
		return nil, err
	}
	r.children = append(r.children, c)
	addr, admin := dataLn.Addr().String(), adminLn.Addr().String()
	if err := waitReady(ctx, c, func(ctx context.Context) error {
		if err := probeReady(ctx, admin); err != nil {
			return err
		}
		return r.probeUsers(ctx, addr)
	}); err != nil {
		return nil, err
	}
	pid := c.Pid()
	return r.newTarget(name, addr, func() (time.Duration, error) { return r.cpu.Process(pid) })
}

// shutdown closes the connections and stops the children, last started first.
func (r *runner) shutdown() error {
	for _, t := range r.targets {
		t.close()
	}
	var errs []error
	for i := len(r.children) - 1; i >= 0; i-- {
		errs = append(errs, r.children[i].stop(stopGrace))
	}
	return errors.Join(errs...)
}

// phase is one kind of load, run on some of the targets.
type phase struct {
	name    string
	streams bool // skipped on targets measured in the unary phases only
	run     func(ctx context.Context, t *target, d time.Duration) measurement
}

// measurement is what one load measured, whatever its kind.
type measurement struct {
	count    float64 // requests, or MiB
	elapsed  time.Duration
	p50, p99 time.Duration // unary only
	errors   int
	firstErr error
}

func fromResult(res Result) measurement {
	return measurement{
		count: float64(res.Calls), elapsed: res.Elapsed,
		p50: res.Percentile(0.50), p99: res.Percentile(0.99),
		errors: res.Errors, firstErr: res.FirstErr,
	}
}

func fromStream(res StreamResult) measurement {
	return measurement{count: float64(res.Bytes) / (1 << 20), elapsed: res.Elapsed, errors: res.Errors, firstErr: res.FirstErr}
}

func (r *runner) phases() []phase {
	o := r.o
	stream := Stream{Streams: o.Streams, Size: o.MessageSize, PerCall: o.PerCall}
	return []phase{
		{name: PhaseUnary, run: func(ctx context.Context, t *target, d time.Duration) measurement {
			return fromResult(Load{Concurrency: o.Concurrency, Duration: d}.Run(ctx, func(ctx context.Context, w int) error {
				_, err := t.users[w%len(t.users)].GetUser(ctx, unaryRequest)
				return err
			}))
		}},
		{name: PhaseLatency, run: func(ctx context.Context, t *target, d time.Duration) measurement {
			return fromResult(Load{Concurrency: 1, Duration: d}.Run(ctx, func(ctx context.Context, _ int) error {
				_, err := t.users[0].GetUser(ctx, unaryRequest)
				return err
			}))
		}},
		{name: PhaseDownload, streams: true, run: func(ctx context.Context, t *target, d time.Duration) measurement {
			s := stream
			s.Duration = d
			return fromStream(s.Download(ctx, t.ifaces))
		}},
		{name: PhaseUpload, streams: true, run: func(ctx context.Context, t *target, d time.Duration) measurement {
			s := stream
			s.Duration = d
			return fromStream(s.Upload(ctx, t.ifaces))
		}},
	}
}

// measureAll runs the rounds: in each, every phase on every target, the targets in an order that
// rotates from round to round.
func (r *runner) measureAll(ctx context.Context) ([]Figures, error) {
	var samples []Figures
	for round := 1; round <= r.o.Rounds; round++ {
		for _, ph := range r.phases() {
			if len(r.o.Phases) > 0 && !slices.Contains(r.o.Phases, ph.name) {
				continue
			}
			for i := range r.targets {
				t := r.targets[(i+round-1)%len(r.targets)]
				if ph.streams && t.unaryOnly {
					continue
				}
				f, err := r.measure(ctx, ph, t, round)
				if err != nil {
					return nil, err
				}
				fmt.Fprintf(r.o.Progress, "round %d/%d  %-8s %-7s  %s\n", round, r.o.Rounds, ph.name, t.name, f.brief())
				samples = append(samples, f)
			}
		}
	}
	return samples, nil
}

// cpuTimes are the CPU times of the processes involved, at one instant.
type cpuTimes struct{ middle, backend, client time.Duration }

func (r *runner) cpuTimes(t *target) (cpuTimes, error) {
	var c cpuTimes
	var err error
	if t.middle != nil {
		if c.middle, err = t.middle(); err != nil {
			return c, fmt.Errorf("bench: CPU time of %s: %w", t.name, err)
		}
	}
	if c.backend, err = r.cpu.Process(r.backend.Pid()); err != nil {
		return c, fmt.Errorf("bench: CPU time of the backend: %w", err)
	}
	if c.client, err = r.cpu.Process(os.Getpid()); err != nil {
		return c, fmt.Errorf("bench: CPU time of this process: %w", err)
	}
	return c, nil
}

// measure warms a target up with a phase's load, then measures it.
func (r *runner) measure(ctx context.Context, ph phase, t *target, round int) (Figures, error) {
	if r.o.Warmup > 0 {
		ph.run(ctx, t, r.o.Warmup)
	}
	before, err := r.cpuTimes(t)
	if err != nil {
		return Figures{}, err
	}
	m := ph.run(ctx, t, r.o.Duration)
	after, err := r.cpuTimes(t)
	if err != nil {
		return Figures{}, err
	}
	if err := ctx.Err(); err != nil {
		return Figures{}, err
	}
	for _, c := range r.children {
		select {
		case <-c.exited:
			return Figures{}, c.exitError()
		default:
		}
	}
	f := Figures{
		Phase: ph.name, Target: t.name, Round: round, Unit: "req",
		Count: m.count, Seconds: m.elapsed.Seconds(), Errors: m.errors,
		P50us: micros(m.p50), P99us: micros(m.p99),
	}
	if ph.streams {
		f.Unit = "MiB"
	}
	if m.elapsed > 0 {
		f.Rate = m.count / m.elapsed.Seconds()
	}
	if m.firstErr != nil {
		f.FirstError = m.firstErr.Error()
	}
	if m.count > 0 {
		per := func(d time.Duration) float64 { return micros(d) / m.count }
		if t.middle != nil {
			f.MiddleCPU = per(after.middle - before.middle)
		}
		f.BackendCPU = per(after.backend - before.backend)
		f.ClientCPU = per(after.client - before.client)
	}
	return f, nil
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// brief is the one-line progress summary of a sample.
func (f Figures) brief() string {
	s := fmt.Sprintf("%10s %s/s", strconv.FormatFloat(f.Rate, 'f', 0, 64), f.Unit)
	if f.Unit == "req" {
		s += fmt.Sprintf("  p50 %s  p99 %s", fmtMicros(f.P50us), fmtMicros(f.P99us))
	}
	if f.Errors > 0 {
		s += fmt.Sprintf("  %d errors (first: %s)", f.Errors, f.FirstError)
	}
	return s
}
