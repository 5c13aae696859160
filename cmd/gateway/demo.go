package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	"github.com/protogate/gateway/resolvers"
)

func newDemoCommand() *cobra.Command {
	var (
		flags      listenFlags
		latency    time.Duration
		noPolicies bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the gateway in front of the example shop (three gRPC services started in-process)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			server.TuneRuntime()
			cfg := config.Default()
			flags.apply(cmd, cfg)
			if !noPolicies {
				cfg.Policies = demo.Policies().Completed()
			}
			log := newLogger()

			backends, err := shop.Start(shop.Options{Latency: latency})
			if err != nil {
				return fmt.Errorf("starting the example shop: %w", err)
			}
			defer backends.Close()
			spec, err := demo.Spec(backends)
			if err != nil {
				return err
			}
			spec.Policies = cfg.Policies
			srv, err := server.New(cfg, server.WithLogger(log), server.WithGraphQL(resolvers.Options{Page: true}))
			if err != nil {
				return err
			}
			if _, err := srv.Apply(spec); err != nil {
				return err
			}
			for _, name := range backends.Services() {
				log.Info("demo backend", "service", backends.ServiceName(name), "addr", backends.Addr(name))
			}
			ctx, stop := signalContext()
			defer stop()
			return srv.Serve(ctx, nil)
		},
	}
	flags.register(cmd)
	cmd.Flags().DurationVar(&latency, "backend-latency", 0, "artificial latency added by every demo backend call")
	cmd.Flags().BoolVar(&noPolicies, "no-policies", false, "serve without the demo's policies (JWT on OrderService, rate limit, WAF, CORS, access logs)")
	return cmd
}
