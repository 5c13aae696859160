package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
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

// reloadDebounce is how long the watched directories must be quiet before the files are read
// again: one look per burst of events, as an editor's save, a ConfigMap update or a certificate's
// renewal makes.
const reloadDebounce = 100 * time.Millisecond

// fileState is what a path held when it was read: the file the path resolved to, through any
// symlinks (a Kubernetes volume's gw.yaml -> ..data/gw.yaml, ..data -> a version's directory), and
// a digest of its content. The zero value stands for a path that could not be read.
type fileState struct {
	target string
	digest [sha256.Size]byte
}

// readFile reads the file at path, and tells what it held.
func readFile(path string) ([]byte, fileState, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fileState{}, err
	}
	// Resolved after the read: should the path switch to another file in between, the content
	// recorded is the old one, and the next look, which the switch's own events bring, reloads.
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fileState{}, err
	}
	return data, fileState{target: target, digest: sha256.Sum256(data)}, nil
}

// readConfigFile reads the config file at path, and tells what it held.
func readConfigFile(path string) ([]byte, fileState, error) {
	data, file, err := readFile(path)
	if err != nil {
		return nil, fileState{}, fmt.Errorf("config: %w", err)
	}
	return data, file, nil
}

// fileStates are the files a config names (config.Files, and what its services' .proto files
// import), by path, each as it was read.
type fileStates map[string]fileState

// add records each of paths that s does not hold yet: as seen holds it, read before the load now
// under way used it, or else as it is now. Paths are recorded absolute, so that a file named two
// ways (relative to the working directory, and as an import path resolved it) is one.
func (s fileStates) add(paths []string, seen fileStates) {
	for _, p := range paths {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if _, ok := s[p]; ok {
			continue
		}
		st, ok := seen[p]
		if !ok {
			_, st, _ = readFile(p)
		}
		s[p] = st
	}
}

// now reads the files of s again.
func (s fileStates) now() fileStates {
	now := make(fileStates, len(s))
	for p := range s {
		_, now[p], _ = readFile(p)
	}
	return now
}

// sourceFiles are the files the config services of spec were read from: descriptor sets, .proto
// files and those they import.
func sourceFiles(spec registry.Spec) []string {
	var files []string
	for _, reg := range spec.Registrations {
		files = append(files, reg.SourceFiles()...)
	}
	return files
}

// reloader applies a running gateway's config file to it again.
type reloader struct {
	path     string
	override func(*config.Config) // the command line's settings, over the file's, as at start
	srv      *server.Server
	log      *slog.Logger
	last     fileState  // the config file as last read, whether it was applied or refused
	named    fileStates // the files the configuration serving names, as last read
}

// files are the files whose directories the watcher watches: the config file and the files it
// names, each as named and as it resolved through symlinks when last read.
func (r *reloader) files() []string {
	files := []string{r.path, r.last.target}
	for p, st := range r.named {
		files = append(files, p, st.target)
	}
	return files
}

// watch reloads the config when the config file or a file it names changes on disk, or on SIGHUP
// (from hup, which reloadSignal returned), until ctx is done. A SIGHUP that arrived before watch
// runs is acted on at once, and so is a change made to the files since serve read them.
func (r *reloader) watch(ctx context.Context, hup <-chan os.Signal) {
	var (
		events <-chan fsnotify.Event
		errs   <-chan error
	)
	d, err := newDirWatcher(r.log)
	if err != nil {
		r.log.Warn("config: cannot watch the files; reload with SIGHUP", "err", err)
	} else {
		defer d.close()
		events, errs = d.w.Events, d.w.Errors
		d.follow(r.files())
	}
	// After each look the watcher follows the files of the configuration then serving: those a
	// reload names from then on, no longer those it dropped.
	reload := func(trigger string, always bool) {
		r.reload(ctx, trigger, always)
		if d != nil {
			d.follow(r.files())
		}
	}
	reload("file changed", false) // while the gateway started, before the directories were watched
	var debounce, retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reload("SIGHUP", true)
		case ev := <-events:
			if d.concerns(ev) {
				debounce = time.After(reloadDebounce)
			}
		case err := <-errs:
			r.log.Warn("config: watching the directories of the files the gateway reads", "err", err)
		case <-debounce:
			debounce = nil
			reload("file changed", false)
		case <-retry:
			retry = nil
			if d.retry() { // back: its files may have changed while it was not watched
				debounce = time.After(reloadDebounce)
			}
		}
		if retry == nil && d != nil && d.missing() {
			retry = time.After(watchRetry)
		}
	}
}

// watchRetry is how often the watcher tries again to watch directories it is missing: removed
// ones, or ones that did not exist yet.
const watchRetry = time.Second

// reload reads the config file and applies it. Unless always is set, it does nothing when the file
// and those the configuration serving names are as they were last read: same content, same targets,
// so the events were for other files or left these as they were. A config file that cannot be
// read, holds no YAML document, does not validate or does not compile, or a file it names that no
// longer loads, is reported (once, until a file changes or always is set) and ignored: the running
// configuration keeps serving.
func (r *reloader) reload(ctx context.Context, trigger string, always bool) {
	data, file, err := readConfigFile(r.path)
	// Read before anything this reload loads: a file that changes while it runs differs at the
	// next look.
	seen := r.named.now()
	var changed []string
	for p, st := range seen {
		if st != r.named[p] {
			changed = append(changed, p)
		}
	}
	slices.Sort(changed)
	if file != r.last {
		changed = append([]string{r.path}, changed...)
	}
	if len(changed) == 0 && !always {
		return
	}
	r.last, r.named = file, seen
	why := []any{"trigger", trigger}
	if len(changed) > 0 {
		why = append(why, "changed", strings.Join(changed, ", "))
	}
	if err != nil {
		r.refuse(why, err)
		return
	}
	if !config.HasDocument(data) {
		// What a writer leaves for a moment when it truncates the file before writing it again:
		// applied, it would drop every cluster, route and service. "{}" configures nothing.
		r.refuse(why, fmt.Errorf("config: %s holds no YAML document (it is empty, or holds only comments, document markers or null), as a file being written may for a moment; write {} to configure nothing", r.path))
		return
	}
	cfg, err := config.Parse(r.path, data)
	if err != nil {
		r.refuse(why, err)
		return
	}
	r.override(cfg)
	named := make(fileStates)
	named.add(cfg.Files(), seen)
	// Services whose sections did not change keep their descriptors: no backend is asked again, so a
	// reload applies while a reflection backend is down.
	spec, err := baseSpec(ctx, cfg, registry.StaticOptions{Previous: r.srv.Registry().Base()})
	if err != nil {
		r.refuse(why, err)
		return
	}
	named.add(sourceFiles(spec), seen)
	applyREST, err := r.srv.PrepareREST(cfg)
	if err != nil {
		r.refuse(why, err)
		return
	}
	// The data port's certificate, key and client CA roots, read again: a pair caught half-written
	// refuses the whole reload, and the material serving stays.
	applyTLS, err := r.srv.PrepareTLS(cfg)
	if err != nil {
		r.refuse(why, err)
		return
	}
	snap, err := r.srv.Apply(spec)
	if err != nil {
		r.refuse(why, err)
		return
	}
	applyREST()
	applyTLS()
	r.srv.SetShutdownGrace(cfg.ShutdownGrace)
	r.named = named
	if settings := r.srv.StartOnlyChanges(cfg); len(settings) > 0 {
		r.log.Warn("config: changed settings apply at start only and keep their start values; restart to change them",
			append(why, "settings", strings.Join(settings, ", "))...)
	}
	r.log.Info("config reloaded", append(why, "snapshot", snap.Version())...)
}

// refuse reports a reload that changed nothing; why says what brought it.
func (r *reloader) refuse(why []any, err error) {
	r.log.Error("config reload refused; the running configuration keeps serving", append(why, "err", err)...)
}
