package store

import (
	"crypto/sha256"
	"slices"
	"testing"
)

// TestRemoveKeepsSharedFiles: a record file is unlisted, and may be deleted, only once no record
// left names it. Format 1 never gives two records one file (a record's name and version are part
// of it), so only a catalog made by hand can check this.
func TestRemoveKeepsSharedFiles(t *testing.T) {
	shared, own := sha256.Sum256([]byte("shared")), sha256.Sum256([]byte("own"))
	c := newCatalog()
	c.sums[key{"a", 1}] = shared
	c.sums[key{"a", 2}] = own
	c.sums[key{"b", 1}] = shared
	c.active["a"] = 2

	keys, err := c.planDrop("a", []uint64{1, 7})
	if err != nil || !slices.Equal(keys, []key{{"a", 1}}) {
		t.Fatalf("planDrop = %v, %v; want a v1 only", keys, err)
	}
	unlisted, undo := c.remove(keys)
	if len(unlisted) != 0 {
		t.Errorf("dropping a v1 unlists %x; b v1 still names that file", unlisted)
	}
	undo()
	if len(c.sums) != 3 || c.sums[key{"a", 1}] != shared {
		t.Fatalf("after undo the catalog lists %v, want all three records back", c.sums)
	}

	delete(c.active, "a")
	unlisted, _ = c.remove([]key{{"a", 1}, {"a", 2}, {"b", 1}})
	if !slices.Equal(unlisted, [][sha256.Size]byte{shared, own}) {
		t.Errorf("dropping every record unlists %x, want each file once: %x, %x", unlisted, shared, own)
	}
}
