package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "gateway",
		Short:         "One front for gRPC microservices: gRPC, gRPC-Web, REST and GraphQL from registered protos",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDemoCommand(), newDemoTokenCommand(), newServeCommand(), newValidateCommand(), newBenchCommand(),
		newRegisterCommand(), newServicesCommand(), newRollbackCommand(), newStatusCommand(), newUpstreamsCommand())
	return root
}

// signalContext is cancelled by SIGINT or SIGTERM: the gateway then drains and exits 0.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func newLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
