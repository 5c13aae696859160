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

// watchConfig reloads the config file when it changes on disk or on SIGHUP. A file that does not load
// or compile is reported and ignored: the running snapshot keeps serving. Listener addresses, TLS and
// the data dir are read at start only; a change to them is reported as needing a restart.
func watchConfig(ctx context.Context, path string, override func(*config.Config), srv *server.Server, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

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
