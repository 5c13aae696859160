package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	"github.com/protogate/gateway/registry"
)

// adminFlags locate the admin API for the commands that talk to a running gateway.
type adminFlags struct {
	admin   string
	timeout time.Duration
	token   string

	// slow, when set, says what the gateway may be waiting for when it does not answer within timeout.
	slow string
}

// adminToken sends the admin token (policies.auth.admin) with every admin call.
type adminToken string

func (t adminToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

// RequireTransportSecurity is false: the admin port is plaintext (and loopback by default).
func (adminToken) RequireTransportSecurity() bool { return false }

func (f *adminFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.admin, "admin", "http://127.0.0.1:9090", "admin API URL of the gateway")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the gateway")
	cmd.Flags().StringVar(&f.token, "admin-token", os.Getenv("PROTOGATE_ADMIN_TOKEN"),
		"admin API token, when the gateway sets policies.auth.admin (default $PROTOGATE_ADMIN_TOKEN)")
}

// client dials the admin API (gRPC over cleartext HTTP/2 on the admin port).
func (f *adminFlags) client(cmd *cobra.Command) (adminv1.AdminServiceClient, context.Context, func(), error) {
	target := f.admin
	if strings.Contains(target, "://") {
		u, err := url.Parse(target)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--admin %q: %w", f.admin, err)
		}
		if u.Scheme != "http" {
			return nil, nil, nil, fmt.Errorf("--admin %q: only http:// admin URLs are supported", f.admin)
		}
		target = u.Host
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20), grpc.MaxCallRecvMsgSize(64<<20))}
	if f.token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(adminToken(f.token)))
	}
	conn, err := grpc.NewClient("passthrough:///"+target, opts...)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	return adminv1.NewAdminServiceClient(conn), ctx, func() { cancel(); conn.Close() }, nil
}

// run calls f with an admin API client and a context bounded by --timeout, and reports an admin API
// failure as the one-line reason the CLI prints.
func (f *adminFlags) run(cmd *cobra.Command, call func(context.Context, adminv1.AdminServiceClient) error) error {
	client, ctx, done, err := f.client(cmd)
	if err != nil {
		return err
	}
	defer done()
	err = call(ctx, client)
	// The deadline goes to the gateway with the call: what it was doing (a reflection) may end
	// with it and answer DEADLINE_EXCEEDED a moment before the CLI's own context ends. Both are
	// the --timeout running out.
	if err != nil && (errors.Is(ctx.Err(), context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded) {
		return f.timedOut(cmd)
	}
	return rpcError(err)
}

// timedOut says that the gateway did not answer cmd's call within --timeout, and what it may have
// been waiting for, instead of gRPC's bare "context deadline exceeded".
func (f *adminFlags) timedOut(cmd *cobra.Command) error {
	name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
	msg := fmt.Sprintf("%s: the gateway at %s did not answer within %v (--timeout)", name, f.admin, f.timeout)
	if f.slow != "" {
		msg += ": " + f.slow
	}
	return errors.New(msg)
}

// rpcError turns an admin API failure into the one-line reason the CLI prints.
func rpcError(err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		return errors.New(st.Message())
	}
	return err
}

func newRegisterCommand() *cobra.Command {
	var (
		af            adminFlags
		name          string
		endpoints     []string
		cluster       string
		descriptorSet string
		protos        []string
		importPaths   []string
		reflect       bool
		reflectFrom   string
		refresh       time.Duration
		services      []string
		allowBreaking bool
		dryRun        bool
	)
	cmd := &cobra.Command{
		Use:   "register --name NAME (--endpoint HOST:PORT... | --cluster NAME) (--descriptor-set FILE | --proto FILE... | --reflect)",
		Short: "Register a service with a running gateway, or update it (no restart, no code generation)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, flag := range []string{"refresh", "reflect-endpoint"} {
				if cmd.Flags().Changed(flag) && !reflect {
					return fmt.Errorf("--%s applies only with --reflect: the other sources are read once", flag)
				}
			}
			if refresh < 0 {
				return fmt.Errorf("--refresh %v is negative: give an interval of 1s or more, or leave it out to never refresh", refresh)
			}
			req := &adminv1.RegisterRequest{Name: name, Endpoints: endpoints, Cluster: cluster, Services: services,
				AllowBreaking: allowBreaking, DryRun: dryRun}
			sources := 0
			if descriptorSet != "" {
				sources++
				data, err := os.ReadFile(descriptorSet)
				if err != nil {
					return err
				}
				req.Source = &adminv1.RegisterRequest_DescriptorSet{DescriptorSet: data}
			}
			if len(protos) > 0 {
				sources++
				files, entry, err := registry.CollectProtoSources(protos, importPaths)
				if err != nil {
					return err
				}
				req.Source = &adminv1.RegisterRequest_Protos{Protos: &adminv1.ProtoSources{Files: files, EntryPoints: entry}}
			}
			if reflect {
				sources++
				src := &adminv1.ReflectionSource{Endpoint: reflectFrom}
				if refresh > 0 {
					src.RefreshInterval = durationpb.New(refresh)
				}
				req.Source = &adminv1.RegisterRequest_Reflection{Reflection: src}
				// The gateway asks the backend while the call waits, within --timeout (the call's
				// deadline reaches the gateway and bounds its reflection too).
				from := reflectFrom
				switch {
				case cluster != "":
					from = "the first endpoint of cluster " + cluster
				case from == "" && len(endpoints) > 0:
					from = endpoints[0]
				}
				af.slow = "it was asking the reflection of " + from + ", which may be slow or not answering"
			}
			if sources != 1 {
				return errors.New("give exactly one of --descriptor-set, --proto or --reflect")
			}
			return af.run(cmd, func(ctx context.Context, client adminv1.AdminServiceClient) error {
				resp, err := client.Register(ctx, req)
				if err != nil {
					return err
				}
				r := resp.GetRegistration()
				out := cmd.OutOrStdout()
				switch {
				case dryRun && !resp.GetChanged():
					fmt.Fprintf(out, "%s: valid (dry run, nothing changed): unchanged, version %d is already active (digest %.12s)\n", r.GetName(), r.GetVersion(), r.GetDigest())
				case dryRun:
					fmt.Fprintf(out, "%s: valid (dry run, nothing changed): would be version %d serving %s\n", r.GetName(), r.GetVersion(), strings.Join(r.GetServices(), ", "))
				case !resp.GetChanged():
					fmt.Fprintf(out, "%s: unchanged, version %d is already active (digest %.12s)\n", r.GetName(), r.GetVersion(), r.GetDigest())
				case cluster != "":
					fmt.Fprintf(out, "%s: version %d active (digest %.12s): %s on cluster %s (%s)\n", r.GetName(), r.GetVersion(), r.GetDigest(),
						strings.Join(r.GetServices(), ", "), r.GetCluster(), strings.Join(r.GetEndpoints(), ", "))
				default:
					fmt.Fprintf(out, "%s: version %d active (digest %.12s): %s on %s\n", r.GetName(), r.GetVersion(), r.GetDigest(), strings.Join(r.GetServices(), ", "), strings.Join(r.GetEndpoints(), ", "))
				}
				for _, b := range resp.GetBreakingChanges() {
					fmt.Fprintf(out, "  breaking (allowed): %s\n", b)
				}
				return nil
			})
		},
	}
	af.register(cmd)
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "registration name (registering an existing name updates it)")
	f.StringArrayVar(&endpoints, "endpoint", nil, "HOST:PORT of a service instance (repeat for several)")
	f.StringVar(&cluster, "cluster", "", "a cluster of the gateway's config file to serve it instead of --endpoint (its endpoints, balancing, TLS)")
	f.StringVar(&descriptorSet, "descriptor-set", "", "serialized FileDescriptorSet (protoc --descriptor_set_out, buf build -o)")
	f.StringArrayVar(&protos, "proto", nil, ".proto file to compile in the gateway (repeat for several)")
	f.StringArrayVar(&importPaths, "import-path", nil, "directory to resolve --proto imports in (like protoc -I)")
	f.BoolVar(&reflect, "reflect", false, "fetch the descriptors from the service's gRPC server reflection")
	f.StringVar(&reflectFrom, "reflect-endpoint", "", "HOST:PORT to ask for reflection (default: the first --endpoint; with --cluster, the cluster's first endpoint, over its TLS)")
	f.DurationVar(&refresh, "refresh", 0, "with --reflect: ask again at this interval (1s or more) and apply changes (default: never)")
	f.StringArrayVar(&services, "service", nil, "fully qualified service to expose (default: all in the descriptors but grpc.health.* and grpc.reflection.*, which the gateway answers itself)")
	f.BoolVar(&allowBreaking, "allow-breaking", false, "accept changes that break clients of the active version")
	f.BoolVar(&dryRun, "dry-run", false, "validate only; change nothing")
	return cmd
}

func newServicesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "services", Short: "List, show and remove registrations of a running gateway", RunE: subcommandRequired}
	var af adminFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List the registrations: the active ones made here and the config file's services",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return af.run(cmd, func(ctx context.Context, client adminv1.AdminServiceClient) error {
				resp, err := client.List(ctx, &adminv1.ListRequest{})
				if err != nil {
					return err
				}
				printRegistrations(cmd.OutOrStdout(), resp.GetRegistrations())
				return nil
			})
		},
	}
	get := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a registration: its versions, or how the config file defines it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return af.run(cmd, func(ctx context.Context, client adminv1.AdminServiceClient) error {
				// A config service has no versions; one made here may have versions but none active
				// (deleted), which Get does not find and ListVersions shows.
				r, err := client.Get(ctx, &adminv1.GetRequest{Name: args[0]})
				if err == nil && r.GetOrigin() == adminv1.Origin_ORIGIN_CONFIG {
					printConfigRegistration(cmd.OutOrStdout(), r)
					return nil
				}
				resp, err := client.ListVersions(ctx, &adminv1.ListVersionsRequest{Name: args[0]})
				if err != nil {
					return err
				}
				printVersions(cmd.OutOrStdout(), resp.GetVersions())
				return nil
			})
		},
	}
	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Stop serving a registration (its history is kept for rollback)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return af.run(cmd, func(ctx context.Context, client adminv1.AdminServiceClient) error {
				resp, err := client.Delete(ctx, &adminv1.DeleteRequest{Name: args[0]})
				if err != nil {
					return err
				}
				if !resp.GetChanged() {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: already deleted, nothing changed\n", args[0])
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: deleted\n", args[0])
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{list, get, rm} {
		af.register(c)
		cmd.AddCommand(c)
	}
	return cmd
}

// subcommandRequired runs a command that only groups others: alone it prints its help; with an
// argument, which is then no subcommand of it, it fails naming it, as the root does (cobra would
// print the help and exit 0, so a script's typo would pass unseen).
func subcommandRequired(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return cmd.Help()
}

func newRollbackCommand() *cobra.Command {
	var (
		af      adminFlags
		version uint64
	)
	cmd := &cobra.Command{
		Use:   "rollback NAME [--version V]",
		Short: "Re-activate an earlier version of a registration (default: the one before the active one)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return af.run(cmd, func(ctx context.Context, client adminv1.AdminServiceClient) error {
				r, err := client.Rollback(ctx, &adminv1.RollbackRequest{Name: args[0], Version: version})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: version %d active (digest %.12s)\n", r.GetName(), r.GetVersion(), r.GetDigest())
				return nil
			})
		},
	}
	af.register(cmd)
	cmd.Flags().Uint64Var(&version, "version", 0, "version to re-activate")
	return cmd
}

func newStatusCommand() *cobra.Command {
	var af adminFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the snapshot a running gateway serves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return af.run(cmd, func(ctx context.Context, client adminv1.AdminServiceClient) error {
				st, err := client.Status(ctx, &adminv1.StatusRequest{})
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "snapshot %d, active since %s: %d registrations, %d routes, %d clusters\n",
					st.GetSnapshotVersion(), st.GetActivatedAt().AsTime().Format(time.RFC3339), st.GetRegistrationCount(), st.GetRouteCount(), st.GetClusterCount())
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SERVICE\tREGISTRATION\tMETHODS\tCLUSTER\tENDPOINTS")
				for _, s := range st.GetServices() {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", s.GetName(), s.GetRegistration(), s.GetMethodCount(), s.GetCluster(), strings.Join(s.GetEndpoints(), ","))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				for _, p := range st.GetPending() {
					fmt.Fprintf(out, "pending: %s: not served until its backend's reflection at %s answers (last: %s)\n",
						p.GetName(), p.GetEndpoint(), p.GetError())
				}
				return nil
			})
		},
	}
	af.register(cmd)
	return cmd
}

func newUpstreamsCommand() *cobra.Command {
	var af adminFlags
	cmd := &cobra.Command{
		Use:   "upstreams",
		Short: "Show the health, circuit breaker, load and ejections of every upstream endpoint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return af.run(cmd, func(ctx context.Context, client adminv1.AdminServiceClient) error {
				resp, err := client.ListUpstreams(ctx, &adminv1.ListUpstreamsRequest{})
				if err != nil {
					return err
				}
				printUpstreams(cmd.OutOrStdout(), resp)
				return nil
			})
		},
	}
	af.register(cmd)
	return cmd
}

// printUpstreams prints one line per endpoint of each cluster.
func printUpstreams(w io.Writer, resp *adminv1.ListUpstreamsResponse) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tLB\tENDPOINT\tCONNECTION\tHEALTH\tBREAKER\tIN-FLIGHT\tLATENCY\tEJECTED\tEJECTIONS\tFAILURES\tTRANSPORT")
	for _, c := range resp.GetClusters() {
		if len(c.GetEndpoints()) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t\t\t\t\t\t\t\t\t\n", c.GetName(), c.GetLb())
		}
		for _, e := range c.GetEndpoints() {
			health := "healthy"
			if !e.GetHealthy() {
				health = "unhealthy"
			}
			latency := "-"
			if e.GetLatency() != nil {
				latency = roundDuration(e.GetLatency().AsDuration()).String()
			}
			ejected := "no"
			if e.GetEjected() {
				ejected = "for " + e.GetEjectedFor().AsDuration().Round(time.Second).String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%s\n", c.GetName(), c.GetLb(), e.GetAddress(), e.GetConnection(),
				health, e.GetBreaker(), e.GetInFlight(), latency, ejected, e.GetEjections(), e.GetConsecutiveFailures(), e.GetTransport())
		}
	}
	_ = tw.Flush()
}

// roundDuration keeps a latency readable: three significant digits or so.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// printRegistrations prints one line per registration; a config service has no version ("-").
func printRegistrations(w io.Writer, regs []*adminv1.Registration) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tORIGIN\tSTATE\tVERSION\tSOURCE\tMETHODS\tCLUSTER\tENDPOINTS\tSERVICES")
	for _, r := range regs {
		version, methods := "-", "-"
		if r.GetOrigin() != adminv1.Origin_ORIGIN_CONFIG {
			version = strconv.FormatUint(r.GetVersion(), 10)
		}
		if !r.GetPending() {
			methods = strconv.Itoa(int(r.GetMethodCount()))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.GetName(), originName(r.GetOrigin()), stateName(r), version,
			sourceName(r.GetSource()), methods, r.GetCluster(), joinOrDash(r.GetEndpoints()), joinOrDash(r.GetServices()))
	}
	_ = tw.Flush()
}

// printConfigRegistration shows a service of the config file, one field a line.
func printConfigRegistration(w io.Writer, r *adminv1.Registration) {
	fmt.Fprintf(w, "%s: defined in the config file (change it there; it has no versions)\n", r.GetName())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	state := "serving"
	if r.GetPending() {
		state = "pending: not served until its backend's reflection answers (last: " + r.GetPendingError() + ")"
	}
	fmt.Fprintf(tw, "state:\t%s\n", state)
	fmt.Fprintf(tw, "source:\t%s\n", sourceName(r.GetSource()))
	fmt.Fprintf(tw, "cluster:\t%s\n", r.GetCluster())
	fmt.Fprintf(tw, "endpoints:\t%s\n", joinOrDash(r.GetEndpoints()))
	fmt.Fprintf(tw, "services:\t%s\n", joinOrDash(r.GetServices()))
	if !r.GetPending() {
		fmt.Fprintf(tw, "methods:\t%d\n", r.GetMethodCount())
		fmt.Fprintf(tw, "digest:\t%s\n", r.GetDigest())
		fmt.Fprintf(tw, "files:\t%s\n", strings.Join(r.GetFiles(), ","))
	}
	_ = tw.Flush()
}

// joinOrDash joins a list with commas; an empty one is "-" (a pending service's services, unless its
// config section names them).
func joinOrDash(list []string) string {
	if len(list) == 0 {
		return "-"
	}
	return strings.Join(list, ",")
}

func originName(o adminv1.Origin) string {
	switch o {
	case adminv1.Origin_ORIGIN_ADMIN:
		return "admin"
	case adminv1.Origin_ORIGIN_CONFIG:
		return "config"
	}
	return "?"
}

func stateName(r *adminv1.Registration) string {
	switch {
	case r.GetPending():
		return "pending"
	case r.GetActive():
		return "serving"
	}
	return "inactive"
}

func printVersions(w io.Writer, versions []*adminv1.Registration) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tACTIVE\tCREATED\tDIGEST\tSOURCE\tCLUSTER\tENDPOINTS\tSERVICES\tREQUESTED")
	for _, r := range versions {
		active := ""
		if r.GetActive() {
			active = "*"
		}
		requested := "all" // no --service: every service of the descriptors
		if rs := r.GetRequestedServices(); len(rs) > 0 {
			requested = strings.Join(rs, ",")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.12s\t%s\t%s\t%s\t%s\t%s\n", r.GetVersion(), active, r.GetCreatedAt().AsTime().Format(time.RFC3339),
			r.GetDigest(), sourceName(r.GetSource()), r.GetCluster(), joinOrDash(r.GetEndpoints()), strings.Join(r.GetServices(), ","), requested)
	}
	_ = tw.Flush()
}

func sourceName(k adminv1.SourceKind) string {
	switch k {
	case adminv1.SourceKind_SOURCE_KIND_DESCRIPTOR_SET:
		return "descriptor-set"
	case adminv1.SourceKind_SOURCE_KIND_PROTO_SOURCES:
		return "proto"
	case adminv1.SourceKind_SOURCE_KIND_REFLECTION:
		return "reflection"
	}
	return "?"
}
