package store_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/protogate/gateway/registry/store"
)

// FuzzLoad opens and loads a data dir in which one file holds arbitrary bytes. It must not panic,
// must fail only with ErrCorrupt or ErrNewerFormat, and must leave every file as it was.
func FuzzLoad(f *testing.F) {
	good := f.TempDir()
	s := mustOpen(f, good)
	mustCommit(f, s, "a", 1, rec("a", 1))
	s.Close()
	files := snapshot(f, good)
	var recordPath string
	for path := range files {
		if strings.HasPrefix(path, "records/") {
			recordPath = path
		}
	}
	manifest, record := files["MANIFEST"], files[recordPath]
	body := func(file []byte) []byte { return file[16 : len(file)-4] }

	// mode 0: MANIFEST is data; 1: MANIFEST is data behind a valid header and checksum;
	// 2: the record file is data; 3: the record file is data behind a valid header and checksum,
	// and MANIFEST lists it.
	f.Add(uint8(0), manifest)
	f.Add(uint8(0), []byte{})
	f.Add(uint8(0), []byte("PGW-MAN\n garbage"))
	f.Add(uint8(1), body(manifest))
	f.Add(uint8(2), record)
	f.Add(uint8(3), body(record))
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		dir := t.TempDir()
		switch mode % 4 {
		case 0:
			writeFile(t, dir, "MANIFEST", data)
			writeFile(t, dir, recordPath, record)
		case 1:
			writeFile(t, dir, "MANIFEST", store.SealManifest(store.FormatVersion, data))
			writeFile(t, dir, recordPath, record)
		case 2:
			writeFile(t, dir, "MANIFEST", manifest)
			writeFile(t, dir, recordPath, data)
		case 3:
			file := store.SealRecord(store.FormatVersion, data)
			sum := sha256.Sum256(file)
			writeFile(t, dir, "MANIFEST", store.ManifestListing("a", 1, file))
			writeFile(t, dir, "records/"+hex.EncodeToString(sum[:]), file)
		}
		before := snapshot(t, dir)

		s, err := store.Open(dir)
		if err == nil {
			var st store.State
			st, err = s.Load(t.Context())
			s.Close()
			for name, v := range st.Active {
				if !hasRecord(st.Records, name, v) {
					t.Errorf("Load: %q version %d is active but not among the records", name, v)
				}
			}
		}
		if err != nil && !errors.Is(err, store.ErrCorrupt) && !errors.Is(err, store.ErrNewerFormat) {
			t.Errorf("got %v, want success, ErrCorrupt or ErrNewerFormat", err)
		}
		wantSnapshot(t, dir, before)
	})
}

func hasRecord(rs []store.Record, name string, version uint64) bool {
	for _, r := range rs {
		if r.Name == name && r.Version == version {
			return true
		}
	}
	return false
}
