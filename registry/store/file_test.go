package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/protogate/gateway/registry/store"
)

func TestOpenKeepsHistoryAcrossReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "dir")
	s := mustOpen(t, dir)
	mustCommit(t, s, "a", 1, rec("a", 1))
	mustCommit(t, s, "a", 2, rec("a", 2))
	mustCommit(t, s, "b", 1, rec("b", 1))
	mustCommit(t, s, "a", 1) // roll back
	mustCommit(t, s, "b", 0) // delete
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := store.State{Records: []store.Record{rec("a", 1), rec("a", 2), rec("b", 1)}, Active: map[string]uint64{"a": 1}}
	s = mustOpen(t, dir)
	wantState(t, s, want)

	mustCommit(t, s, "b", 2, rec("b", 2))
	s.Close()
	want.Records = append(want.Records, rec("b", 2))
	want.Active["b"] = 2
	wantState(t, mustOpen(t, dir), want)

	for _, path := range []string{dir, filepath.Join(dir, "records")} {
		if fi, err := os.Stat(path); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %v, want 0700", path, fi.Mode())
		}
	}
	for path, content := range snapshot(t, dir) {
		if strings.Contains(path, ".tmp") {
			t.Errorf("%s left behind", path)
		}
		fi, _ := os.Stat(filepath.Join(dir, path))
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want nothing for group and others", path, fi.Mode())
		}
		if bytes.Contains(content, []byte("descriptor set of b, version 2")) && !strings.HasPrefix(path, "records/") {
			t.Errorf("payload found in %s, want it only in records/", path)
		}
	}
}

func TestOpenRefusesNewerFormat(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir).Close()
	writeFile(t, dir, "MANIFEST", store.SealManifest(3, []byte("whatever format 3 holds")))
	before := snapshot(t, dir)

	_, err := store.Open(dir)
	want := fmt.Sprintf("data dir %s: store format 3 is newer than this gateway understands (%d); "+
		"upgrade the gateway or use another --data-dir", dir, store.FormatVersion)
	if !errors.Is(err, store.ErrNewerFormat) || err.Error() != want {
		t.Fatalf("Open: %v\nwant an error wrapping ErrNewerFormat: %s", err, want)
	}
	wantSnapshot(t, dir, before)
}

func TestOpenRefusesSecondOpener(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	mustCommit(t, s, "a", 1, rec("a", 1))

	_, err := store.Open(dir)
	want := fmt.Sprintf("data dir %s in use by another gateway (lock %s held by pid %d)",
		dir, filepath.Join(dir, "LOCK"), os.Getpid())
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(fmt.Sprint(err), want) {
		t.Fatalf("second Open: %v\nwant an error wrapping ErrLocked that says: %s", err, want)
	}
	wantState(t, s, store.State{Records: []store.Record{rec("a", 1)}, Active: map[string]uint64{"a": 1}})

	s.Close()
	wantState(t, mustOpen(t, dir), store.State{Records: []store.Record{rec("a", 1)}, Active: map[string]uint64{"a": 1}})
}

// TestOpenNamesDataDir: Open's errors say which data dir failed, each once, so that its caller
// prints them as they are.
func TestOpenNamesDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := store.Open(file)
	if want := "data dir " + file + ": "; err == nil || !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), "data dir") != 1 {
		t.Errorf("Open of a file: %v, want an error starting %q", err, want)
	}

	dir := t.TempDir()
	defer mustOpen(t, dir).Close()
	_, err = store.Open(dir)
	if want := "data dir " + dir + " in use"; err == nil || !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), "data dir") != 1 {
		t.Errorf("second Open: %v, want an error starting %q", err, want)
	}
}

// TestOpenRemovesCrashLeftovers: a crash can leave temporary files and record files that MANIFEST
// does not list; they change nothing, and the next Open deletes them. Files whose names the store
// does not write stay.
func TestOpenRemovesCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	mustCommit(t, s, "a", 1, rec("a", 1))
	s.Close()
	kept := snapshot(t, dir)
	unlisted := strings.Repeat("0", 62) + "aa"
	writeFile(t, dir, ".MANIFEST.123.tmp", []byte("half a manifest"))
	writeFile(t, dir, "records/."+unlisted+".456.tmp", []byte("half a record"))
	writeFile(t, dir, "records/"+unlisted, store.SealRecord(store.FormatVersion, []byte("not listed anywhere")))
	for _, other := range []string{"notes.tmp", ".MANIFEST.tmp", "records/0123", "records/" + unlisted[1:], "records/.notes.456.tmp"} {
		writeFile(t, dir, other, []byte("not the store's"))
		kept[other] = []byte("not the store's")
	}

	s = mustOpen(t, dir)
	wantSnapshot(t, dir, kept)
	wantState(t, s, store.State{Records: []store.Record{rec("a", 1)}, Active: map[string]uint64{"a": 1}})
	mustCommit(t, s, "a", 2, rec("a", 2))
	wantState(t, s, store.State{Records: []store.Record{rec("a", 1), rec("a", 2)}, Active: map[string]uint64{"a": 2}})
}

// TestDropDeletesRecordFiles: a drop takes its records out of MANIFEST and deletes their files,
// and nothing else; a reopened store loads what is left.
func TestDropDeletesRecordFiles(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	for v := range uint64(3) {
		mustCommit(t, s, "a", v+1, rec("a", v+1))
	}
	mustCommit(t, s, "b", 1, rec("b", 1))
	before := snapshot(t, dir)

	mustDrop(t, s, "a", 1, 2)
	want := store.State{Records: []store.Record{rec("a", 3), rec("b", 1)}, Active: map[string]uint64{"a": 3, "b": 1}}
	wantState(t, s, want)
	after := snapshot(t, dir)
	for _, r := range []store.Record{rec("a", 1), rec("a", 2), rec("a", 3), rec("b", 1)} {
		path := recordFile(t, before, r)
		_, kept := after[path]
		if dropped := r.Version < 3 && r.Name == "a"; kept == dropped {
			t.Errorf("%s v%d: record file %s kept: %v, want %v", r.Name, r.Version, path, kept, !dropped)
		} else if kept && !bytes.Equal(after[path], before[path]) {
			t.Errorf("%s v%d: record file %s changed", r.Name, r.Version, path)
		}
	}
	if len(after) != 3 {
		t.Errorf("data dir holds %q, want MANIFEST and two record files", slices.Sorted(maps.Keys(after)))
	}
	s.Close()
	wantState(t, mustOpen(t, dir), want)
}

// TestDropKeepsSharedRecordFile: a drop deletes a record file only when no record left names it.
// The store never gives two records one file, so MANIFEST is made by hand: it lists a v1's file as
// a v2 too, which Load would report as corrupt until a v2 is dropped.
func TestDropKeepsSharedRecordFile(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	mustCommit(t, s, "a", 1, rec("a", 1))
	s.Close()
	files := snapshot(t, dir)
	path := recordFile(t, files, rec("a", 1))
	writeFile(t, dir, "MANIFEST", store.ManifestSharing("a", files[path], 1, 2))

	s = mustOpen(t, dir)
	mustDrop(t, s, "a", 2)
	if _, err := os.Stat(filepath.Join(dir, path)); err != nil {
		t.Fatalf("the record file a v1 still names: %v", err)
	}
	want := store.State{Records: []store.Record{rec("a", 1)}, Active: map[string]uint64{"a": 1}}
	wantState(t, s, want)
	s.Close()
	wantState(t, mustOpen(t, dir), want)
}

// TestDropInterruptedBeforeDeleting: a crash after a drop's commit point, before its record files
// are deleted, leaves the new MANIFEST beside the old files. That store loads the state after the
// drop, and the next Open deletes the files.
func TestDropInterruptedBeforeDeleting(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	for v := range uint64(3) {
		mustCommit(t, s, "a", v+1, rec("a", v+1))
	}
	before := snapshot(t, dir)
	mustDrop(t, s, "a", 1, 2)
	s.Close()
	want := snapshot(t, dir)
	for path, content := range before {
		if strings.HasPrefix(path, "records/") {
			writeFile(t, dir, path, content) // the record files the drop deleted: as if it had not got there
		}
	}

	s = mustOpen(t, dir)
	wantSnapshot(t, dir, want)
	wantState(t, s, store.State{Records: []store.Record{rec("a", 3)}, Active: map[string]uint64{"a": 3}})
}

// TestDropFailureChangesNothing makes replacing MANIFEST fail and checks that the store, on disk
// and in memory, stays at the state before the failed drop.
func TestDropFailureChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	mustCommit(t, s, "a", 1, rec("a", 1))
	mustCommit(t, s, "a", 2, rec("a", 2))
	before := store.State{Records: []store.Record{rec("a", 1), rec("a", 2)}, Active: map[string]uint64{"a": 2}}
	files := snapshot(t, dir)
	remove(t, dir, "MANIFEST")
	writeFile(t, dir, "MANIFEST/in-the-way", nil) // a non-empty directory cannot be renamed over

	if err := s.Drop(t.Context(), "a", 1); err == nil {
		t.Fatal("Drop succeeded with MANIFEST in the way")
	}
	wantState(t, s, before)

	remove(t, dir, "MANIFEST/in-the-way")
	remove(t, dir, "MANIFEST")
	writeFile(t, dir, "MANIFEST", files["MANIFEST"])
	wantSnapshot(t, dir, files) // the record file of a v1 too
	s.Close()
	wantState(t, mustOpen(t, dir), before)
}

// recordFile returns the path, among files, of the record file that holds r.
func recordFile(t testing.TB, files map[string][]byte, r store.Record) string {
	t.Helper()
	for path, content := range files {
		if strings.HasPrefix(path, "records/") && bytes.Contains(content, r.Payload) {
			return path
		}
	}
	t.Fatalf("no record file holds %s v%d", r.Name, r.Version)
	return ""
}

// TestOpenDetectsCorruption damages a store in every way a byte can and checks that Open or Load
// reports ErrCorrupt naming the damaged file, and that no file changed.
func TestOpenDetectsCorruption(t *testing.T) {
	good := t.TempDir()
	s := mustOpen(t, good)
	mustCommit(t, s, "a", 1, rec("a", 1))
	mustCommit(t, s, "a", 2, rec("a", 2))
	s.Close()
	files := snapshot(t, good)
	delete(files, "LOCK")
	records := make([]string, 2) // the files of a v1 and a v2
	for path, content := range files {
		for i := range records {
			if strings.HasPrefix(path, "records/") && bytes.Contains(content, rec("a", uint64(i+1)).Payload) {
				records[i] = path
			}
		}
	}
	if records[0] == "" || records[1] == "" || len(files) != 3 {
		t.Fatalf("store holds %q, want MANIFEST and the record files of a v1 and a v2", slices.Collect(maps.Keys(files)))
	}

	type damage struct {
		name   string
		file   string // the file the error must name
		change func(dir string)
	}
	var cases []damage
	for _, file := range []string{"MANIFEST", records[0]} {
		content := files[file]
		for i := range content {
			cases = append(cases, damage{fmt.Sprintf("%s byte %d flipped", file, i), file, func(dir string) {
				writeFile(t, dir, file, xorAt(content, i))
			}})
			cases = append(cases, damage{fmt.Sprintf("%s truncated to %d bytes", file, i), file, func(dir string) {
				writeFile(t, dir, file, content[:i])
			}})
		}
		cases = append(cases,
			damage{file + " replaced by garbage", file, func(dir string) {
				writeFile(t, dir, file, []byte("this is not a store file\n"))
			}},
			damage{file + " with a byte appended", file, func(dir string) {
				writeFile(t, dir, file, append(bytes.Clone(content), 0))
			}},
		)
	}
	cases = append(cases,
		damage{"MANIFEST sealed around garbage", "MANIFEST", func(dir string) {
			writeFile(t, dir, "MANIFEST", store.SealManifest(store.FormatVersion, []byte("\x05garbage")))
		}},
		damage{"MANIFEST missing", "MANIFEST", func(dir string) {
			remove(t, dir, "MANIFEST")
		}},
		damage{"record file missing", records[1], func(dir string) {
			remove(t, dir, records[1])
		}},
		damage{"record files swapped", records[0], func(dir string) {
			writeFile(t, dir, records[0], files[records[1]])
			writeFile(t, dir, records[1], files[records[0]])
		}},
	)

	for _, tc := range cases {
		dir := t.TempDir()
		for path, content := range files {
			writeFile(t, dir, path, content)
		}
		tc.change(dir)
		before := snapshot(t, dir)
		err := openAndLoad(t.Context(), dir)
		if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), filepath.Join(dir, tc.file)) {
			t.Errorf("%s: got %v, want an error wrapping ErrCorrupt naming %s", tc.name, err, tc.file)
		}
		wantSnapshot(t, dir, before)
	}
}

// openAndLoad opens the store in dir and loads it.
func openAndLoad(ctx context.Context, dir string) error {
	s, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.Load(ctx)
	return err
}

// snapshot returns the content of every file under dir by slash-separated relative path, but LOCK,
// which every Open rewrites.
func snapshot(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel != "LOCK" {
			files[filepath.ToSlash(rel)], err = os.ReadFile(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func wantSnapshot(t testing.TB, dir string, want map[string][]byte) {
	t.Helper()
	if got := snapshot(t, dir); !maps.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("files under %s changed:\n got %q\nwant %q", dir, got, want)
	}
}

func writeFile(t testing.TB, dir, rel string, content []byte) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
}

func remove(t testing.TB, dir, rel string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
		t.Fatal(err)
	}
}

// xorAt returns a copy of b with the byte at i inverted.
func xorAt(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0xff
	return b
}

// TestCommitFailureChangesNothing makes replacing MANIFEST fail and checks that the store, on disk
// and in memory, stays at the state before the failed commit.
func TestCommitFailureChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	mustCommit(t, s, "a", 1, rec("a", 1))
	before := store.State{Records: []store.Record{rec("a", 1)}, Active: map[string]uint64{"a": 1}}
	manifest := snapshot(t, dir)["MANIFEST"]
	remove(t, dir, "MANIFEST")
	writeFile(t, dir, "MANIFEST/in-the-way", nil) // a non-empty directory cannot be renamed over

	if err := s.Commit(t.Context(), "a", 2, rec("a", 2)); err == nil {
		t.Fatal("Commit succeeded with MANIFEST in the way")
	}
	wantState(t, s, before)

	remove(t, dir, "MANIFEST/in-the-way")
	remove(t, dir, "MANIFEST")
	writeFile(t, dir, "MANIFEST", manifest)
	mustCommit(t, s, "b", 1, rec("b", 1))
	s.Close()
	wantState(t, mustOpen(t, dir), store.State{Records: []store.Record{rec("a", 1), rec("b", 1)},
		Active: map[string]uint64{"a": 1, "b": 1}})
}
