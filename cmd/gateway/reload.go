package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/registry"
)

// reloadSignal catches SIGHUP, which asks for a config reload, from the moment it is called until
// stop: a SIGHUP no longer ends the process, as it does by default. One that arrives before anything
// reads the channel (while the gateway starts) waits there, and a burst of them is one reload.
func reloadSignal() (hup <-chan os.Signal, stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	return c, func() { signal.Stop(c) }
}

// ignoreReloads answers the SIGHUPs of a gateway that runs without a config file, until ctx is done:
// there is nothing to reload, and the gateway serves on as it was.
func ignoreReloads(ctx context.Context, hup <-chan os.Signal, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Warn("SIGHUP ignored: serve runs without --config, there is no config file to reload")
		}
	}
}

// watchConfig reloads the config file when it changes on disk or on SIGHUP (from hup, which
// reloadSignal returned), until ctx is done; a SIGHUP that arrived before it runs is acted on at once.
// A file that does not load or compile is reported and ignored: the running snapshot keeps serving.
// Listener addresses, TLS and the data dir are read at start only; a change to them is reported as
// needing a restart.
func watchConfig(ctx context.Context, path string, hup <-chan os.Signal, override func(*config.Config), srv *server.Server, log *slog.Logger) {
	var events <-chan fsnotify.Event
	if w, err := fsnotify.NewWatcher(); err != nil {
		log.Warn("config: cannot watch the file; reload with SIGHUP", "err", err)
	} else {
		defer w.Close()
		// Watch the directory: editors and config managers replace files by renaming over them.
		if err := w.Add(filepath.Dir(path)); err != nil {
			log.Warn("config: cannot watch the file; reload with SIGHUP", "err", err)
		} else {
			events = w.Events
		}
	}
	abs, _ := filepath.Abs(path)
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reload(ctx, path, override, srv, log, "SIGHUP")
		case ev := <-events:
			if p, _ := filepath.Abs(ev.Name); p == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
				debounce = time.After(100 * time.Millisecond) // one reload per burst of writes
			}
		case <-debounce:
			debounce = nil
			reload(ctx, path, override, srv, log, "file changed")
		}
	}
}

func reload(ctx context.Context, path string, override func(*config.Config), srv *server.Server, log *slog.Logger, why string) {
	cfg, err := config.Load(path)
	if err != nil {
		log.Error("config reload refused; the running configuration keeps serving", "trigger", why, "err", err)
		return
	}
	override(cfg) // the command line's listen addresses and data dir, as at start
	// Services whose sections did not change keep their descriptors: no backend is asked again, so a
	// reload applies while a reflection backend is down.
	spec, err := baseSpec(ctx, cfg, registry.StaticOptions{Previous: srv.Registry().Base()})
	if err != nil {
		log.Error("config reload refused; the running configuration keeps serving", "trigger", why, "err", err)
		return
	}
	if running := srv.Config(); cfg.Listen != running.Listen || cfg.AdminListen != running.AdminListen ||
		cfg.DataDir != running.DataDir || cfg.TLS != running.TLS || cfg.GRPC != running.GRPC {
		log.Warn("config: listen addresses, tls, grpc limits and data_dir apply at start only; restart to change them", "trigger", why)
	}
	snap, err := srv.Apply(spec)
	if err != nil {
		log.Error("config reload refused; the running configuration keeps serving", "trigger", why, "err", err)
		return
	}
	log.Info("config reloaded", "trigger", why, "snapshot", snap.Version())
}
