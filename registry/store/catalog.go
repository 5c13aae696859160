package store

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// key names one stored record.
type key struct {
	name    string
	version uint64
}

func compareKeys(a, b key) int {
	return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.version, b.version))
}

// catalog is what is stored, without the payloads: the SHA-256 of every record's encoding and the
// active version of each name. Both stores check commits against one; the file store also writes
// it out whole as the manifest.
type catalog struct {
	sums   map[key][sha256.Size]byte
	active map[string]uint64
}

func newCatalog() *catalog {
	return &catalog{sums: make(map[key][sha256.Size]byte), active: make(map[string]uint64)}
}

// keys returns every stored record's key, sorted by name, then version.
func (c *catalog) keys() []key {
	return slices.SortedFunc(maps.Keys(c.sums), compareKeys)
}

// encodedRecord is a record ready to be stored.
type encodedRecord struct {
	rec  Record // CreatedAt canonical; Payload still the caller's
	file []byte // the record file, see encodeRecord
	sum  [sha256.Size]byte
}

// change is what one commit does to a catalog.
type change struct {
	name   string
	active uint64
	fresh  []encodedRecord // the records not stored yet
}

// plan checks a commit against c. It returns what the commit changes, or nil when it changes
// nothing. Two records have the same content exactly when their encodings have the same SHA-256.
func (c *catalog) plan(name string, active uint64, add []Record) (*change, error) {
	if name == "" {
		return nil, errors.New("store: commit: empty registration name")
	}
	ch := &change{name: name, active: active}
	added := make(map[uint64][sha256.Size]byte, len(add))
	for _, r := range add {
		if r.Name != name {
			return nil, fmt.Errorf("store: commit %q: record is for %q", name, r.Name)
		}
		if r.Version == 0 {
			return nil, fmt.Errorf("store: commit %q: record version 0 (versions start at 1)", name)
		}
		r.CreatedAt = canonicalTime(r.CreatedAt)
		file := encodeRecord(r)
		sum := sha256.Sum256(file)
		have, stored := c.sums[key{name, r.Version}]
		if !stored {
			have, stored = added[r.Version]
		}
		if stored && have != sum {
			return nil, fmt.Errorf("store: commit %q version %d: %w", name, r.Version, ErrConflict)
		}
		if stored {
			continue
		}
		added[r.Version] = sum
		ch.fresh = append(ch.fresh, encodedRecord{rec: r, file: file, sum: sum})
	}
	if active != 0 {
		_, stored := c.sums[key{name, active}]
		_, adding := added[active]
		if !stored && !adding {
			return nil, fmt.Errorf("store: commit %q: cannot activate version %d: it is not stored", name, active)
		}
	}
	if len(ch.fresh) == 0 && c.active[name] == active {
		return nil, nil
	}
	return ch, nil
}

// apply makes ch, planned against c, part of c. undo takes it out again.
func (c *catalog) apply(ch *change) (undo func()) {
	was := c.active[ch.name] // 0 when none was
	for _, f := range ch.fresh {
		c.sums[key{ch.name, f.rec.Version}] = f.sum
	}
	setActive(c.active, ch.name, ch.active)
	return func() {
		for _, f := range ch.fresh {
			delete(c.sums, key{ch.name, f.rec.Version})
		}
		setActive(c.active, ch.name, was)
	}
}

// setActive records that version of name is active; 0 means none is.
func setActive(active map[string]uint64, name string, version uint64) {
	if version == 0 {
		delete(active, name)
	} else {
		active[name] = version
	}
}
