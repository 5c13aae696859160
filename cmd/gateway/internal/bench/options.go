package bench

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// The hidden subcommands of `gateway bench` a run re-executes the binary with, and their flags.
const (
	BackendCommand    = "backend"
	GatewayCommand    = "gateway"
	FlagListenFD      = "listen-fd"
	FlagAdminListenFD = "admin-listen-fd"
	FlagBackend       = "backend"
	FlagCPUProfile    = "cpuprofile"
	FlagPolicies      = "policies"     // serve with PolicyChain
	FlagAccessLog     = "access-log"   // with FlagPolicies: where the access log goes
	FlagSampleRatio   = "sample-ratio" // with FlagPolicies: the tracing sample ratio
)

// Defaults of Options, and the shorter ones of a smoke run (--quick).
const (
	DefaultDuration    = 3 * time.Second
	DefaultWarmup      = 300 * time.Millisecond
	DefaultRounds      = 3
	DefaultConcurrency = 64
	DefaultConns       = 4
	DefaultMessageSize = 64 << 10

	QuickDuration = 500 * time.Millisecond
	QuickWarmup   = 100 * time.Millisecond
	QuickRounds   = 2
)

// Options configure a run. A zero field takes its default.
type Options struct {
	Duration    time.Duration // measuring window of one target in one round
	Warmup      time.Duration // load applied, unmeasured, before every measurement; negative = none
	Rounds      int           // rounds; each measures every target once, in a rotating order
	Concurrency int           // calls in flight in the throughput load (the latency load has one)
	Conns       int           // client connections per target in the throughput and streaming loads
	Streams     int           // concurrent streams in the streaming loads; default Conns
	MessageSize int           // bytes per streamed message
	PerCall     int           // messages per streaming call; default 4 MiB worth

	// Phases lists the phases to run (PhaseUnary, PhaseLatency, PhaseDownload, PhaseUpload); empty
	// means all. Fewer phases make a CPU profile of the gateway about one kind of call.
	Phases []string

	SkipNginx bool   // measure no nginx even when one is installed
	Nginx     string // the nginx binary; "" finds one on PATH

	// SkipPolicies leaves out the Policies target: the second gateway, serving with PolicyChain.
	SkipPolicies bool
	// PoliciesSampleRatio is the Policies target's tracing sample ratio ("0.1"); "" keeps the
	// demo's, every request.
	PoliciesSampleRatio string

	// GatewayCPUProfile, if set, is where the gateway process writes a CPU profile of its whole life
	// (it idles while the other targets are measured); the policies gateway writes its own to the
	// same path with ".policies" appended.
	GatewayCPUProfile string

	// Command runs this binary's bench command: a run starts its children as Command followed by
	// BackendCommand or GatewayCommand and their flags.
	Command []string
	// Progress, if set, gets a line per measurement as the run goes.
	Progress io.Writer
	// ChildOutput gets the children's output (warnings and errors only); nil discards it.
	ChildOutput io.Writer
}

func (o Options) withDefaults() Options {
	if o.Duration <= 0 {
		o.Duration = DefaultDuration
	}
	if o.Warmup == 0 {
		o.Warmup = DefaultWarmup
	}
	if o.Rounds <= 0 {
		o.Rounds = DefaultRounds
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Conns <= 0 {
		o.Conns = DefaultConns
	}
	if o.Streams <= 0 {
		o.Streams = o.Conns
	}
	if o.MessageSize <= 0 {
		o.MessageSize = DefaultMessageSize
	}
	if o.PerCall <= 0 {
		o.PerCall = max(1, (4<<20)/o.MessageSize)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.ChildOutput == nil {
		o.ChildOutput = io.Discard
	}
	return o
}

func (o Options) validate() error {
	switch {
	case len(o.Command) == 0:
		return errors.New("bench: no command to start the backend and gateway processes with")
	case o.MessageSize > maxPayload:
		return fmt.Errorf("bench: message size %d is over the %d bytes the test service sends", o.MessageSize, maxPayload)
	case len(o.Phases) > 0 && slices.ContainsFunc(o.Phases, func(p string) bool { return !slices.Contains(phaseOrder, p) }):
		return fmt.Errorf("bench: phases %q: each must be one of %q", o.Phases, phaseOrder)
	case int64(o.MessageSize)*int64(o.PerCall) >= 1<<31:
		return errors.New("bench: a streaming call must move less than 2 GiB (the test service counts in int32)")
	}
	return nil
}
