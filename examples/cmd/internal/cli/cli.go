// Package cli is the command line shared by the programs that run one shop service each
// (examples/cmd/users, orders, catalog).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/protogate/gateway/examples/shop"
)

// Main runs service with the command line args (without the program name) until SIGINT or
// SIGTERM, and returns the exit status as Run does.
func Main(service, defaultListen string, args []string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, service, defaultListen, args, stderr)
}

// Run runs service with the command line args until ctx is done, logging to stderr, and returns
// the exit status: 0 after a stop through ctx, 1 when serving fails, 2 for bad flags.
func Run(ctx context.Context, service, defaultListen string, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(service, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-listen ADDR] [-latency DURATION]\n\nRuns the example shop's %s service.\n\n", service, service)
		fs.PrintDefaults()
	}
	listen := fs.String("listen", defaultListen, "`address` to listen on")
	var opts shop.Options
	fs.DurationVar(&opts.Latency, "latency", 0, "artificial latency added to every call, e.g. 5ms")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", service, fs.Args())
		fs.Usage()
		return 2
	}
	if opts.Latency < 0 {
		fmt.Fprintf(stderr, "%s: -latency must not be negative, got %v\n", service, opts.Latency)
		return 2
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := run(ctx, log, service, *listen, opts); err != nil {
		log.Error("serving failed", "service", service, "err", err)
		return 1
	}
	log.Info("stopped", "service", service)
	return 0
}

func run(ctx context.Context, log *slog.Logger, service, listen string, opts shop.Options) error {
	lis, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	log.Info("serving", "service", service, "addr", lis.Addr().String(), "latency", opts.Latency)
	return shop.Serve(ctx, service, lis, opts)
}
