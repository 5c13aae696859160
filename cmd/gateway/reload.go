package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
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

// reloadDebounce is how long the config file's directory must be quiet before the file is read
// again: one look per burst of events, as an editor's save or a ConfigMap update makes.
const reloadDebounce = 100 * time.Millisecond

// configFile is what a config path held when it was read: the file the path resolved to, through
// any symlinks (a Kubernetes ConfigMap volume's gw.yaml -> ..data/gw.yaml, ..data -> a version's
// directory), and a digest of its content. The zero value stands for a path that could not be read.
type configFile struct {
	target string
	digest [sha256.Size]byte
}

// readConfigFile reads the config file at path, and tells what it held.
func readConfigFile(path string) ([]byte, configFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, configFile{}, fmt.Errorf("config: %w", err)
	}
	// Resolved after the read: should the path switch to another file in between, the content
	// recorded is the old one, and the next look, which the switch's own events bring, reloads.
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, configFile{}, fmt.Errorf("config: %w", err)
	}
	return data, configFile{target: target, digest: sha256.Sum256(data)}, nil
}

// reloader applies a running gateway's config file to it again.
type reloader struct {
	path     string
	override func(*config.Config) // the command line's settings, over the file's, as at start
	srv      *server.Server
	log      *slog.Logger
	last     configFile // the file as last read, whether it was applied or refused
}

// watch reloads the config file when it changes on disk or on SIGHUP (from hup, which reloadSignal
// returned), until ctx is done. A SIGHUP that arrived before watch runs is acted on at once, and so
// is a change made to the file since serve read it.
func (r *reloader) watch(ctx context.Context, hup <-chan os.Signal) {
	var (
		events <-chan fsnotify.Event
		errs   <-chan error
	)
	dir := filepath.Dir(r.path)
	if w, err := fsnotify.NewWatcher(); err != nil {
		r.log.Warn("config: cannot watch the file; reload with SIGHUP", "err", err)
	} else {
		defer w.Close()
		// The directory is watched, not the file: editors replace a file by renaming another
		// over it, and a ConfigMap volume switches its ..data symlink to a new version. Any event
		// there is a reason to read the file again; reload tells whether it changed.
		if err := w.Add(dir); err != nil {
			r.log.Warn("config: cannot watch the file's directory; reload with SIGHUP", "dir", dir, "err", err)
		} else {
			events, errs = w.Events, w.Errors
		}
	}
	r.reload(ctx, "file changed", false) // while the gateway started, before its directory was watched
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload(ctx, "SIGHUP", true)
		case <-events:
			debounce = time.After(reloadDebounce)
		case err := <-errs:
			r.log.Warn("config: watching the file's directory", "dir", dir, "err", err)
		case <-debounce:
			debounce = nil
			r.reload(ctx, "file changed", false)
		}
	}
}

// reload reads the config file and applies it. Unless always is set, it does nothing when the file
// is as it was last read: same content, same target, so the events were for other files of the
// directory or left the file as it was. A file that cannot be read, holds no YAML document, does not
// validate or does not compile is reported (once, until it changes or always is set) and ignored:
// the running configuration keeps serving.
func (r *reloader) reload(ctx context.Context, trigger string, always bool) {
	data, file, err := readConfigFile(r.path)
	if file == r.last && !always {
		return
	}
	r.last = file
	if err != nil {
		r.refuse(trigger, err)
		return
	}
	if !config.HasDocument(data) {
		// What a writer leaves for a moment when it truncates the file before writing it again:
		// applied, it would drop every cluster, route and service. "{}" configures nothing.
		r.refuse(trigger, fmt.Errorf("config: %s holds no YAML document (it is empty, or holds only comments, document markers or null), as a file being written may for a moment; write {} to configure nothing", r.path))
		return
	}
	cfg, err := config.Parse(r.path, data)
	if err != nil {
		r.refuse(trigger, err)
		return
	}
	r.override(cfg)
	// Services whose sections did not change keep their descriptors: no backend is asked again, so a
	// reload applies while a reflection backend is down.
	spec, err := baseSpec(ctx, cfg, registry.StaticOptions{Previous: r.srv.Registry().Base()})
	if err != nil {
		r.refuse(trigger, err)
		return
	}
	applyREST, err := r.srv.PrepareREST(cfg)
	if err != nil {
		r.refuse(trigger, err)
		return
	}
	// The data port's certificate, key and client CA roots, read again: a pair caught half-written
	// refuses the whole reload, and the material serving stays.
	applyTLS, err := r.srv.PrepareTLS(cfg)
	if err != nil {
		r.refuse(trigger, err)
		return
	}
	snap, err := r.srv.Apply(spec)
	if err != nil {
		r.refuse(trigger, err)
		return
	}
	applyREST()
	applyTLS()
	r.srv.SetShutdownGrace(cfg.ShutdownGrace)
	if changed := r.srv.StartOnlyChanges(cfg); len(changed) > 0 {
		r.log.Warn("config: changed settings apply at start only and keep their start values; restart to change them",
			"trigger", trigger, "settings", strings.Join(changed, ", "))
	}
	r.log.Info("config reloaded", "trigger", trigger, "snapshot", snap.Version())
}

// refuse reports a reload that changed nothing.
func (r *reloader) refuse(trigger string, err error) {
	r.log.Error("config reload refused; the running configuration keeps serving", "trigger", trigger, "err", err)
}
