package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fsnotify/fsnotify"
)

// dirWatcher watches the directories of the files a running gateway reads, the config file and
// those it names, and tells which events there may have changed one of them.
//
// Directories are watched, not files: an editor replaces a file by renaming another over it, and a
// Kubernetes ConfigMap or Secret volume never writes a file in place. Its files are symlinks through
// ..data (tls.crt -> ..data/tls.crt, ..data -> ..2025_01_01_00_00_00.1), and an update writes a new
// version's directory, points ..data_tmp at it, renames ..data_tmp over ..data and removes the
// previous version: the events name ..data, never tls.crt.
//
// A directory can go away and come back (rm -rf, then a deploy writes it anew), or not exist yet:
// the kernel's watch of it ends with it, and no event says when it is back. Such a directory is
// missing; retry, which the caller runs while one is, watches it again once it exists. A directory
// reached through a symlinked directory (conf -> releases/7) is followed in its parent too, under
// the symlink's name, so that pointing the symlink elsewhere is seen.
type dirWatcher struct {
	w   *fsnotify.Watcher
	log *slog.Logger
	// dirs maps each directory followed (an absolute path) to the names of the files followed
	// there; watched holds those the watcher watches now, the others are missing.
	dirs    map[string][]string
	watched map[string]bool
	warned  map[string]bool // missing directories reported, so each is reported once
}

// newDirWatcher returns a watcher that watches nothing yet.
func newDirWatcher(log *slog.Logger) (*dirWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return &dirWatcher{w: w, log: log, dirs: make(map[string][]string), watched: make(map[string]bool), warned: make(map[string]bool)}, nil
}

// close stops watching.
func (d *dirWatcher) close() { _ = d.w.Close() }

// follow watches the directories of files (paths, some of them where another resolves through
// symlinks; empty ones are skipped) from now on, and no others: it starts watching the directories
// new among them and stops watching those no longer needed. A directory that cannot be watched is
// reported, once, and missing until retry watches it.
func (d *dirWatcher) follow(files []string) {
	want := make(map[string][]string)
	add := func(dir, name string) {
		if !slices.Contains(want[dir], name) {
			want[dir] = append(want[dir], name)
		}
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		if abs, err := filepath.Abs(f); err == nil {
			f = abs // events name paths as they were watched: one spelling for each
		}
		dir := filepath.Dir(f)
		add(dir, filepath.Base(f))
		if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			add(filepath.Dir(dir), filepath.Base(dir)) // the symlink pointed elsewhere
		}
	}
	for dir := range d.watched {
		if _, ok := want[dir]; !ok {
			_ = d.w.Remove(dir)
			delete(d.watched, dir)
		}
	}
	d.dirs = want
	for dir := range d.warned {
		if _, ok := want[dir]; !ok {
			delete(d.warned, dir)
		}
	}
	d.retry()
}

// missing reports whether a directory followed is not watched.
func (d *dirWatcher) missing() bool { return len(d.watched) < len(d.dirs) }

// retry tries to watch the directories followed that are missing, and reports whether it watches
// one again that was reported missing before: its files may have changed meanwhile.
func (d *dirWatcher) retry() (back bool) {
	for dir, names := range d.dirs {
		if d.watched[dir] {
			continue
		}
		if err := d.w.Add(dir); err != nil {
			if !d.warned[dir] {
				d.warned[dir] = true
				slices.Sort(names)
				d.log.Warn("config: cannot watch a directory; watching it again once it exists (or reload with SIGHUP)",
					"dir", dir, "files", strings.Join(names, ", "), "err", err)
			}
			continue
		}
		d.watched[dir] = true
		if d.warned[dir] {
			delete(d.warned, dir)
			d.log.Info("config: watching a directory again", "dir", dir)
			back = true
		}
	}
	return back
}

// concerns reports whether ev may have changed a file followed: an event on its name, on ..data or
// ..data_tmp beside it, or on a directory followed itself, seen from its parent or by its own
// watch: removed, or replaced (a directory renamed over it, a symlink to it pointed elsewhere). The
// watch of such a directory, if the watcher has not ended it, is of what was there: it is missing
// then, until retry watches what is there now.
func (d *dirWatcher) concerns(ev fsnotify.Event) bool {
	if _, ok := d.dirs[ev.Name]; ok {
		if d.watched[ev.Name] {
			_ = d.w.Remove(ev.Name)
			delete(d.watched, ev.Name)
		}
		return true
	}
	names, ok := d.dirs[filepath.Dir(ev.Name)]
	if !ok {
		return false
	}
	name := filepath.Base(ev.Name)
	return slices.Contains(names, name) || strings.HasPrefix(name, "..data")
}
