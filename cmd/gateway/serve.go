package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/routing"
)

// listenFlags are the flags serve and demo share; a flag given on the command line overrides the config.
type listenFlags struct {
	listen, adminListen string
}

func (f *listenFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.listen, "listen", config.DefaultListen, "data port address (gRPC, gRPC-Web, REST, GraphQL)")
	cmd.Flags().StringVar(&f.adminListen, "admin-listen", config.DefaultAdminListen, "admin port address (health, readiness, admin API)")
}

func (f *listenFlags) apply(cmd *cobra.Command, cfg *config.Config) {
	if cmd.Flags().Changed("listen") || cfg.Listen == "" {
		cfg.Listen = f.listen
	}
	if cmd.Flags().Changed("admin-listen") || cfg.AdminListen == "" {
		cfg.AdminListen = f.adminListen
	}
}

func newServeCommand() *cobra.Command {
	var (
		flags      listenFlags
		configPath string
		dataDir    string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway from a config file (or empty, waiting for registrations)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			server.TuneRuntime()
			// SIGHUP is caught before anything else: one sent while the gateway starts (loading
			// the config's services may take seconds) must not end it.
			hup, stopHUP := reloadSignal()
			defer stopHUP()
			cfg := config.Default()
			var file fileState // what the config file held, for the reloads to compare with
			if configPath != "" {
				data, read, err := readConfigFile(configPath)
				if err != nil {
					return err
				}
				if cfg, err = config.Parse(configPath, data); err != nil {
					return err
				}
				file = read
			}
			// And the files it names, read before the gateway loads them, so that one changed
			// while it starts differs at the watcher's first look.
			named := make(fileStates)
			named.add(cfg.Files(), nil)
			// The command line's settings override the file's, at start and on every reload.
			override := func(cfg *config.Config) {
				flags.apply(cmd, cfg)
				if cmd.Flags().Changed("data-dir") {
					cfg.DataDir = dataDir
				}
			}
			override(cfg)
			ctx, stop := signalContext()
			defer stop()
			// A reflection service whose backend is down does not stop the gateway: it serves the rest
			// and adds that service once its backend answers.
			spec, err := baseSpec(ctx, cfg, registry.StaticOptions{Defer: true})
			if err != nil {
				return err
			}
			named.add(sourceFiles(spec), nil)
			log := newLogger()
			// A stop signal while the start waits (for an identity provider's key set) ends it:
			// Serve then serves nothing.
			srv, err := server.New(cfg, server.WithLogger(log), server.WithContext(ctx))
			if err != nil {
				return err
			}
			if _, err := srv.Apply(spec); err != nil {
				if configPath != "" && errors.Is(err, registry.ErrPolicies) {
					return fmt.Errorf("%s: %w", configPath, err) // as validate names the file
				}
				return err
			}
			if configPath != "" {
				r := &reloader{path: configPath, override: override, srv: srv, log: log, last: file, named: named}
				go r.watch(ctx, hup)
			} else {
				go ignoreReloads(ctx, hup, log)
			}
			return srv.Serve(ctx, nil)
		},
	}
	flags.register(cmd)
	cmd.Flags().StringVar(&configPath, "config", "", "YAML config file (default: none, an empty gateway)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "directory where registrations persist (default: in memory)")
	return cmd
}

func newValidateCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "validate --config FILE",
		Short: "Check a config file and print what it configures; every problem is listed with file:line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configPath)
			if err != nil {
				return err
			}
			// Offline: a reflection service's backend is not asked (it may be unreachable from where
			// validate runs); its section and its cluster's TLS files are still checked.
			spec, err := baseSpec(cmd.Context(), cfg, registry.StaticOptions{Offline: true})
			if err != nil {
				return err
			}
			// The services compiled together, as serve compiles them: two that claim one service,
			// REST route or GraphQL name are refused here too. Nothing is dialed: no health check
			// probes a backend.
			pool := routing.NewPool(nil, routing.WithPoolOffline())
			defer pool.Close()
			snap, err := registry.Compile(spec, pool, 1)
			if err != nil {
				if _, placed := errors.AsType[*registry.ServiceError](err); placed {
					return err // it starts with the place in the file of the service at fault
				}
				return fmt.Errorf("%s: services: %w", configPath, err)
			}
			snap.Retire(pool)
			// The policies built as serve builds them, offline: a key the auth policy cannot use or
			// WAF directives that do not load are refused here too.
			if err := policies.Check(cfg.Policies, nil); err != nil {
				return fmt.Errorf("%s: policies: %w", configPath, err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprint(out, cfg.Summary())
			printNotAsked(out, spec.Pending)
			printWarnings(out, snap)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "YAML config file")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// printNotAsked lists the services whose descriptors come by reflection, which validate does not
// ask for them: their descriptors are not checked, nor compiled with the others.
func printNotAsked(w io.Writer, pending []registry.PendingRegistration) {
	if len(pending) == 0 {
		return
	}
	fmt.Fprintln(w, "\nservices by reflection, not asked (validate works offline; serve asks their backends at start)")
	for _, p := range pending {
		fmt.Fprintf(w, "  %s\n", p.Registration.Name)
	}
}

// printWarnings lists what the config says that does not apply, though it is no error: the GraphQL
// links and overrides and the policy rules that name what none of the file's services has (a
// service registered later may bring it, but a misspelt name would wait for ever), the policy rules
// that apply to no call, the routes that never win, and the persisted GraphQL operations that do not
// validate against the services' schema (a registration may bring what they need, but until then
// every call to one fails). serve logs the same at start and at each reload (the persisted
// operations' for every snapshot).
func printWarnings(w io.Writer, snap *registry.Snapshot) {
	for _, section := range []struct {
		title string
		lines []string
	}{
		{"graphql links and overrides waiting: each applies once a registration brings what it names", snap.WaitingGraphQL()},
		{"policy rules waiting: each applies once a registration brings the service it names", snap.WaitingRules()},
		{"policy rules applying to no call: a misspelt name?", snap.UnmatchedRules()},
		{"routes that never win: an earlier route of the same match takes every call they match", snap.ShadowedRoutes()},
		{"graphql persisted operations that do not validate against the services' schema: calls to them answer INTERNAL until corrected, or until a registration brings what they need", persistedProblems(snap)},
	} {
		if len(section.lines) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", section.title)
		for _, line := range section.lines {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

// persistedProblems describes the persisted GraphQL operations that do not validate against snap's
// schema; none when snap has no schema (no services), against which nothing validates.
func persistedProblems(snap *registry.Snapshot) []string {
	if sch := snap.GraphQL(); sch != nil {
		return resolvers.PersistedProblems(sch, snap.GraphQLFront())
	}
	return nil
}

// baseSpec is the config's share of the serving state: clusters, routes and static registrations
// (some pending, with o.Defer).
func baseSpec(ctx context.Context, cfg *config.Config, o registry.StaticOptions) (registry.Spec, error) {
	spec, err := registry.SpecFromConfig(cfg)
	if err != nil {
		return spec, err
	}
	o.Timeout = 10 * time.Second
	if spec.Registrations, spec.Pending, err = registry.StaticRegistrations(ctx, cfg, o); err != nil {
		return spec, err
	}
	return spec, nil
}
