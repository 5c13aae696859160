package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/protogate/gateway/cmd/gateway/internal/bench"
)

func newBenchCommand() *cobra.Command {
	var (
		o          bench.Options
		quick      bool
		jsonPath   string
		cpuProfile string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the gateway against direct calls and nginx grpc_pass: unary and streaming, on loopback",
		Long: `bench starts the example users service with gRPC's interop TestService as one backend process,
the gateway in front of it as another, a second gateway serving the demo's policy chain as a third
(target "policies": cached JWT, rate limit, CORS, size limits, tracing, metrics and an access log; the
WAF off), and nginx (grpc_pass) when it is installed, then measures unary GetUser throughput and latency
and streaming throughput both ways, interleaving the targets over several rounds. The policies target
and nginx take the unary loads only. Every call to every target carries the same demo token and
x-request-id, so only the policies gateway differs. It prints medians over rounds, the CPU each process
spent per request, and the goal lines.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if quick {
				flags := cmd.Flags()
				if !flags.Changed("duration") {
					o.Duration = bench.QuickDuration
				}
				if !flags.Changed("rounds") {
					o.Rounds = bench.QuickRounds
				}
				if !flags.Changed("warmup") {
					o.Warmup = bench.QuickWarmup
				}
			}
			if o.Warmup == 0 {
				o.Warmup = -1 // an explicit --warmup 0: none
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: cannot find this binary to start the backend and gateway: %w", err)
			}
			o.Command = append([]string{exe}, strings.Fields(cmd.CommandPath())[1:]...)
			o.GatewayCPUProfile = cpuProfile
			o.Progress = cmd.ErrOrStderr()
			o.ChildOutput = cmd.ErrOrStderr()

			ctx, stop := signalContext()
			defer stop()
			rep, err := bench.Run(ctx, o)
			if err != nil {
				if ctx.Err() != nil {
					return errors.New("bench: interrupted")
				}
				return err
			}
			if err := rep.WriteText(cmd.OutOrStdout()); err != nil {
				return err
			}
			if jsonPath != "" {
				return rep.WriteJSON(jsonPath)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Duration, "duration", bench.DefaultDuration, "measuring window of each target in each round")
	f.DurationVar(&o.Warmup, "warmup", bench.DefaultWarmup, "unmeasured load before every measurement")
	f.IntVar(&o.Rounds, "rounds", bench.DefaultRounds, "rounds; each measures every target once, in a rotating order")
	f.IntVar(&o.Concurrency, "concurrency", bench.DefaultConcurrency, "unary calls in flight in the throughput load")
	f.IntVar(&o.Conns, "conns", bench.DefaultConns, "client connections per target (and concurrent streams)")
	f.StringSliceVar(&o.Phases, "phases", nil, "run only these phases: unary, latency, download, upload (default all)")
	f.BoolVar(&o.SkipNginx, "skip-nginx", false, "do not measure nginx even when it is installed")
	f.BoolVar(&o.SkipPolicies, "skip-policies", false, "do not measure the gateway with the demo's policy chain")
	f.StringVar(&o.PoliciesSampleRatio, "policies-sample-ratio", "", "the policies gateway's tracing sample ratio, e.g. 0.1 (default: the demo's, every request)")
	f.StringVar(&o.Nginx, "nginx", "", "nginx binary (default: nginx on PATH)")
	f.BoolVar(&quick, "quick", false, "a smoke run: short rounds (flags given explicitly still apply)")
	f.StringVar(&jsonPath, "json", "", "also write the results as JSON to this file")
	f.StringVar(&cpuProfile, "gateway-cpuprofile", "", "write a CPU profile of the gateway process to this file (and of the policies gateway to this file.policies)")
	cmd.AddCommand(newBenchBackendCommand(), newBenchGatewayCommand())
	return cmd
}

// newBenchBackendCommand is the backend process of a bench run.
func newBenchBackendCommand() *cobra.Command {
	var (
		addr string
		fd   int
	)
	cmd := &cobra.Command{
		Use:    bench.BackendCommand,
		Short:  "Serve the bench backend: shop users and grpc.testing.TestService",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := bench.Listen(addr, fd)
			if err != nil {
				return err
			}
			if fd == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "bench backend listening on", ln.Addr())
			}
			ctx, stop := signalContext()
			defer stop()
			return bench.ServeBackend(ctx, ln)
		},
	}
	cmd.Flags().StringVar(&addr, "listen", "127.0.0.1:0", "address to serve on")
	cmd.Flags().IntVar(&fd, bench.FlagListenFD, 0, "serve on this inherited listening socket instead")
	return cmd
}

// newBenchGatewayCommand is the gateway process of a bench run.
func newBenchGatewayCommand() *cobra.Command {
	var (
		addr, admin, backend, cpuProfile, accessLog, ratio string
		fd, adminFD                                        int
		policies                                           bool
	)
	cmd := &cobra.Command{
		Use:    bench.GatewayCommand,
		Short:  "Serve a gateway in front of a bench backend",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if backend == "" {
				return errors.New("bench gateway: --backend is required")
			}
			dataLn, err := bench.Listen(addr, fd)
			if err != nil {
				return err
			}
			adminLn, err := bench.Listen(admin, adminFD)
			if err != nil {
				dataLn.Close()
				return err
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					f.Close()
					return err
				}
				defer func() {
					pprof.StopCPUProfile()
					err = errors.Join(err, f.Close())
				}()
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			ctx, stop := signalContext()
			defer stop()
			if fd == 0 || adminFD == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "bench gateway listening on", dataLn.Addr(), "admin", adminLn.Addr())
			}
			o := bench.GatewayOptions{Log: log}
			if policies {
				p := bench.PolicyChain(accessLog, ratio)
				o.Policies = &p
			}
			return bench.ServeGateway(ctx, dataLn, adminLn, backend, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "listen", "127.0.0.1:0", "data address")
	f.StringVar(&admin, "admin-listen", "127.0.0.1:0", "admin address")
	f.IntVar(&fd, bench.FlagListenFD, 0, "serve data on this inherited listening socket instead")
	f.IntVar(&adminFD, bench.FlagAdminListenFD, 0, "serve admin on this inherited listening socket instead")
	f.StringVar(&backend, bench.FlagBackend, "", "host:port of the bench backend")
	f.StringVar(&cpuProfile, bench.FlagCPUProfile, "", "write a CPU profile of this process to this file")
	f.BoolVar(&policies, bench.FlagPolicies, false, "serve with the demo's policy chain, WAF off")
	f.StringVar(&accessLog, bench.FlagAccessLog, "stdout", "with --"+bench.FlagPolicies+": the access log's file, or stdout, stderr or off")
	f.StringVar(&ratio, bench.FlagSampleRatio, "", "with --"+bench.FlagPolicies+": the share of new traces sampled (default: the demo's, every one)")
	return cmd
}
