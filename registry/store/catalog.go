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

// planDrop checks a drop of versions of name against c. It returns the keys of the stored records
// the drop removes: none when it changes nothing.
func (c *catalog) planDrop(name string, versions []uint64) ([]key, error) {
	if name == "" {
		return nil, errors.New("store: drop: empty registration name")
	}
	if active := c.active[name]; active != 0 && slices.Contains(versions, active) {
		return nil, fmt.Errorf("store: drop %q version %d: %w", name, active, ErrActive)
	}
	var keys []key
	for _, v := range versions {
		k := key{name, v}
		if _, stored := c.sums[k]; stored && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// remove takes the records of keys, planned by planDrop, out of c. It returns the SHA-256 sums of
// the record files that no record left in c lists, which can go, and undo, which puts the records
// back. (Format 1 encodes a record's name and version in its file, so two records never share
// one; remove does not rely on it.)
func (c *catalog) remove(keys []key) (unlisted [][sha256.Size]byte, undo func()) {
	removed := make(map[key][sha256.Size]byte, len(keys))
	for _, k := range keys {
		removed[k] = c.sums[k]
		delete(c.sums, k)
	}
	listed := make(map[[sha256.Size]byte]bool, len(c.sums))
	for _, sum := range c.sums {
		listed[sum] = true
	}
	for _, k := range keys {
		if sum := removed[k]; !listed[sum] && !slices.Contains(unlisted, sum) {
			unlisted = append(unlisted, sum)
		}
	}
	return unlisted, func() { maps.Copy(c.sums, removed) }
}
