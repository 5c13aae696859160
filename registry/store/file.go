package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Names inside the data dir; doc.go describes the layout.
const (
	lockName     = "LOCK"
	manifestName = "MANIFEST"
	recordsDir   = "records"
)

// fileStore is the embedded Store: files in a data dir, written only by write-to-temp, fsync,
// rename, fsync-dir. No store file is ever modified in place; a record file is deleted only once
// MANIFEST no longer lists it.
type fileStore struct {
	dir string

	mu   sync.Mutex
	lock *os.File // holds the data dir; nil once closed
	cat  *catalog // what MANIFEST lists
	// broken is set when a commit or drop failed after it may have replaced MANIFEST: what is
	// durable is then unknown, so every later call fails with it and a restart finds out.
	broken error
}

// Open opens the store in dir, creating dir (0700) and an empty store if they are missing, and
// holds dir until Close. It fails with an error wrapping ErrLocked when another process holds dir,
// ErrNewerFormat when a newer gateway wrote it, and ErrCorrupt when its MANIFEST is damaged; it
// changes no store file in those cases. Otherwise it removes what an interrupted commit or drop
// left behind: record files MANIFEST does not list, and temporary files (see removeLeftovers).
// Record files are read, and checked, by Load.
//
// Its errors name dir (or the file in it at fault) once, so that the caller need not: "data dir
// DIR: ...", "data dir DIR in use by another gateway ...", "store file DIR/MANIFEST is corrupt ...".
func Open(dir string) (Store, error) {
	if dir == "" {
		return nil, errors.New("store: empty data dir")
	}
	s, err := open(dir)
	var kind *kindError // their messages name dir or the file, and read as one sentence
	if err != nil && !errors.As(err, &kind) {
		err = fmt.Errorf("data dir %s: %w", dir, err)
	}
	return s, err
}

func open(dir string) (Store, error) {
	if err := mkdir(dir); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	cat, err := openManifest(dir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	removeLeftovers(dir, cat)
	return &fileStore{dir: dir, lock: lock, cat: cat}, nil
}

// mkdir creates dir (0700) and its missing parents, and makes dir's entry in its parent durable.
func mkdir(dir string) error {
	switch _, err := os.Stat(dir); {
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("store: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return syncDir(filepath.Dir(filepath.Clean(dir)))
}

// openManifest reads MANIFEST, or writes an empty one into a fresh data dir.
func openManifest(dir string) (*catalog, error) {
	path := filepath.Join(dir, manifestName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		// records/ is only ever created once a MANIFEST exists, so finding it means MANIFEST was lost.
		if _, err := os.Lstat(filepath.Join(dir, recordsDir)); !errors.Is(err, fs.ErrNotExist) {
			if err != nil {
				return nil, fmt.Errorf("store: %w", err)
			}
			return nil, corrupt(path, "missing while "+recordsDir+"/ exists")
		}
		cat := newCatalog()
		if _, err := writeFile(dir, manifestName, encodeManifest(cat)); err != nil {
			return nil, err
		}
		return cat, syncDir(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	body, err := unseal(dir, manifestName, manifestMagic, b)
	if err != nil {
		return nil, err
	}
	cat, why := decodeManifest(body)
	if why != "" {
		return nil, corrupt(path, why)
	}
	return cat, nil
}

// removeLeftovers deletes, from a data dir whose MANIFEST lists cat, the files only a commit or
// drop cut short leaves: record files MANIFEST does not list (written by a commit that never
// reached its commit point, or dropped by a drop that did not get to delete them) and the
// temporary files of writeFile. It touches only names the store itself writes. It is best
// effort: Load never reads what it leaves, and the next Open tries again.
func removeLeftovers(dir string, cat *catalog) {
	listed := make(map[string]bool, len(cat.sums))
	for _, sum := range cat.sums {
		listed[hex.EncodeToString(sum[:])] = true
	}
	for _, d := range []string{dir, filepath.Join(dir, recordsDir)} {
		inRecords := d != dir
		entries, err := os.ReadDir(d)
		if err != nil {
			continue // records/ does not exist before the first commit
		}
		removed := false
		for _, e := range entries {
			name := e.Name()
			leftover := isTempName(name, isManifestName)
			if inRecords {
				leftover = isRecordName(name) && !listed[name] || isTempName(name, isRecordName)
			}
			if leftover && e.Type().IsRegular() && os.Remove(filepath.Join(d, name)) == nil {
				removed = true
			}
		}
		if removed {
			_ = syncDir(d) // a removal a crash undoes leaves the file to the next Open
		}
	}
}

func isManifestName(name string) bool { return name == manifestName }

// isRecordName reports whether name is one the store gives a record file: a SHA-256 in lower-case
// hex.
func isRecordName(name string) bool {
	if len(name) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(name) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isTempName reports whether name is one writeFile gives the temporary file of a file whose name
// target accepts: "." + that name + "." + a random part + ".tmp".
func isTempName(name string, target func(string) bool) bool {
	if !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".tmp") {
		return false
	}
	rest := strings.TrimSuffix(name[1:], ".tmp")
	i := strings.LastIndexByte(rest, '.')
	return i > 0 && i < len(rest)-1 && target(rest[:i])
}

// usable reports why s cannot be used, if it cannot.
func (s *fileStore) usable() error {
	if s.lock == nil {
		return errClosed
	}
	return s.broken
}

func (s *fileStore) Load(ctx context.Context) (State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return State{}, err
	}
	keys := s.cat.keys()
	st := State{Records: make([]Record, len(keys)), Active: maps.Clone(s.cat.active)}
	for i, k := range keys {
		if err := ctxErr(ctx, "load"); err != nil {
			return State{}, err
		}
		r, err := s.readRecord(k)
		if err != nil {
			return State{}, err
		}
		st.Records[i] = r
	}
	return st, nil
}

// readRecord reads and checks the record file MANIFEST lists for k.
func (s *fileStore) readRecord(k key) (Record, error) {
	sum := s.cat.sums[k]
	rel := filepath.Join(recordsDir, hex.EncodeToString(sum[:]))
	path := filepath.Join(s.dir, rel)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, corrupt(path, fmt.Sprintf("missing; %s lists it as %q version %d", manifestName, k.name, k.version))
	}
	if err != nil {
		return Record{}, fmt.Errorf("store: %w", err)
	}
	body, err := unseal(s.dir, rel, recordMagic, b)
	if err != nil {
		return Record{}, err
	}
	if sha256.Sum256(b) != sum {
		return Record{}, corrupt(path, "content does not match its SHA-256")
	}
	r, why := decodeRecord(body)
	if why == "" && (r.Name != k.name || r.Version != k.version) {
		why = fmt.Sprintf("holds %q version %d; %s lists %q version %d", r.Name, r.Version, manifestName, k.name, k.version)
	}
	if why != "" {
		return Record{}, corrupt(path, why)
	}
	return r, nil
}

// Commit writes the new record files, then replaces MANIFEST. Renaming the new MANIFEST into
// place is the commit point: before it nothing a reader sees has changed (new record files are
// not yet listed), after it the new state is whole.
func (s *fileStore) Commit(ctx context.Context, name string, active uint64, add ...Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if err := ctxErr(ctx, "commit"); err != nil {
		return err
	}
	ch, err := s.cat.plan(name, active, add)
	if err != nil || ch == nil {
		return err
	}
	if err := s.writeRecords(ch.fresh); err != nil {
		return err
	}
	if err := ctxErr(ctx, "commit"); err != nil {
		return err // the record files written so far are listed nowhere, so nothing changed
	}
	return s.replaceManifest("commit", s.cat.apply(ch))
}

// Drop replaces MANIFEST with one that no longer lists the dropped records, then deletes their
// record files. Renaming the new MANIFEST into place is the commit point, as for Commit: before
// it nothing has changed; after it the drop is done, and a record file still there is an
// unlisted leftover that Load never reads and the next Open removes. A record file is deleted
// only once no record MANIFEST lists names it.
func (s *fileStore) Drop(ctx context.Context, name string, versions ...uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if err := ctxErr(ctx, "drop"); err != nil {
		return err
	}
	keys, err := s.cat.planDrop(name, versions)
	if err != nil || len(keys) == 0 {
		return err
	}
	unlisted, undo := s.cat.remove(keys)
	if err := s.replaceManifest("drop", undo); err != nil {
		return err
	}
	if len(unlisted) == 0 {
		return nil
	}
	dir := filepath.Join(s.dir, recordsDir)
	for _, sum := range unlisted {
		_ = os.Remove(filepath.Join(dir, hex.EncodeToString(sum[:]))) // one left behind goes at the next Open
	}
	_ = syncDir(dir) // likewise: a deletion a crash undoes leaves an unlisted file
	return nil
}

// replaceManifest writes s.cat, which op has just changed, as the new MANIFEST and makes it
// durable: op's commit point. When that fails before MANIFEST is replaced, undo takes op's change
// out of s.cat again; after, what is durable is unknown and s is broken.
func (s *fileStore) replaceManifest(op string, undo func()) error {
	replaced, err := writeFile(s.dir, manifestName, encodeManifest(s.cat))
	if err == nil {
		err = syncDir(s.dir)
	}
	switch {
	case err == nil:
		return nil
	case replaced:
		s.broken = fmt.Errorf("store: data dir %s: a %s failed after replacing %s, so what is durable is "+
			"unknown; restart the gateway: %w", s.dir, op, manifestName, err)
		return s.broken
	default:
		undo() // MANIFEST is the old one: so must s.cat be
		return err
	}
}

// writeRecords makes the record files of fresh durable. A record file is named by its SHA-256, so
// writing one again after a crash puts the same bytes under the same name.
func (s *fileStore) writeRecords(fresh []encodedRecord) error {
	if len(fresh) == 0 {
		return nil
	}
	dir := filepath.Join(s.dir, recordsDir)
	switch err := os.Mkdir(dir, 0o700); {
	case err == nil:
		if err := syncDir(s.dir); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("store: %w", err)
	}
	for _, f := range fresh {
		if _, err := writeFile(dir, hex.EncodeToString(f.sum[:]), f.file); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

func (s *fileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close() // releases the lock
	s.lock = nil
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// writeFile puts data in dir/name through a temporary file that is synced before it is renamed
// over name; dir/name is then either its old content or data, never a mix. The caller syncs dir
// to make the rename durable. renamed reports whether dir/name was replaced.
func writeFile(dir, name string, data []byte) (renamed bool, err error) {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	defer func() {
		if !renamed {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	if err := f.Sync(); err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	return true, nil
}
