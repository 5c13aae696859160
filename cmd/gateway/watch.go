package main

import (
	"log/slog"
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
type dirWatcher struct {
	w    *fsnotify.Watcher
	log  *slog.Logger
	dirs map[string][]string // each directory watched (or tried) -> the names of the files followed there
}

// newDirWatcher returns a watcher that watches nothing yet.
func newDirWatcher(log *slog.Logger) (*dirWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return &dirWatcher{w: w, log: log, dirs: make(map[string][]string)}, nil
}

// close stops watching.
func (d *dirWatcher) close() { _ = d.w.Close() }

// follow watches the directories of files (paths, some of them where another resolves through
// symlinks; empty ones are skipped) from now on, and no others: it starts watching the directories
// new among them and stops watching those no longer needed. A directory that cannot be watched is
// reported, once: its files reload with SIGHUP only.
func (d *dirWatcher) follow(files []string) {
	want := make(map[string][]string)
	for _, f := range files {
		if f == "" {
			continue
		}
		f = filepath.Clean(f)
		dir, name := filepath.Dir(f), filepath.Base(f)
		if !slices.Contains(want[dir], name) {
			want[dir] = append(want[dir], name)
		}
	}
	for dir := range d.dirs {
		if _, ok := want[dir]; !ok {
			_ = d.w.Remove(dir) // not watched, if it was removed or could not be watched
		}
	}
	for dir, names := range want {
		if _, ok := d.dirs[dir]; ok {
			continue
		}
		if err := d.w.Add(dir); err != nil {
			slices.Sort(names)
			d.log.Warn("config: cannot watch a directory; reload with SIGHUP after its files change",
				"dir", dir, "files", strings.Join(names, ", "), "err", err)
		}
	}
	d.dirs = want
}

// concerns reports whether ev may have changed a file followed: an event on its name, on ..data or
// ..data_tmp beside it, or the removal of its directory (no longer watched then: the next follow
// watches it again if it is back).
func (d *dirWatcher) concerns(ev fsnotify.Event) bool {
	if _, ok := d.dirs[ev.Name]; ok && ev.Has(fsnotify.Remove|fsnotify.Rename) {
		delete(d.dirs, ev.Name)
		return true
	}
	names, ok := d.dirs[filepath.Dir(ev.Name)]
	if !ok {
		return false
	}
	name := filepath.Base(ev.Name)
	return slices.Contains(names, name) || strings.HasPrefix(name, "..data")
}
