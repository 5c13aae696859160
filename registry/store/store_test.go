package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/protogate/gateway/registry/store"
)

func TestMemory(t *testing.T) {
	testStore(t, func(*testing.T) store.Store { return store.NewMemory() })
}

func TestFile(t *testing.T) {
	testStore(t, func(t *testing.T) store.Store { return mustOpen(t, t.TempDir()) })
}

// testStore is the behaviour every Store shares. open returns an empty store, closed by the test.
func testStore(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("empty", func(t *testing.T) {
		s := open(t)
		st := mustLoad(t, s)
		if len(st.Records) != 0 || st.Active == nil || len(st.Active) != 0 {
			t.Fatalf("empty store loads %+v, want no records and an empty, non-nil Active", st)
		}
	})

	t.Run("roundtrip", func(t *testing.T) {
		s := open(t)
		a1 := rec("a", 1)
		a1.CreatedAt = time.Time{}
		a1.Payload = nil
		b1, b2 := rec("b", 1), rec("b", 2)
		b2.CreatedAt = b2.CreatedAt.In(time.FixedZone("east", 5*3600))
		mustCommit(t, s, "b", 2, b2, b1) // any order
		mustCommit(t, s, "a", 1, a1)
		wantState(t, s, store.State{Records: []store.Record{a1, b1, b2}, Active: map[string]uint64{"a": 1, "b": 2}})
	})

	t.Run("payloads are copied", func(t *testing.T) {
		s := open(t)
		r := rec("a", 1)
		r.Payload = []byte("original")
		mustCommit(t, s, "a", 1, r)
		r.Payload[0] = 'X'
		mustLoad(t, s).Records[0].Payload[1] = 'X'
		if got := string(mustLoad(t, s).Records[0].Payload); got != "original" {
			t.Fatalf("payload = %q after the caller changed its copies, want %q", got, "original")
		}
	})

	t.Run("activate, roll back, delete", func(t *testing.T) {
		s := open(t)
		a1, a2 := rec("a", 1), rec("a", 2)
		all := []store.Record{a1, a2}
		mustCommit(t, s, "a", 1, a1)
		mustCommit(t, s, "a", 2, a2)
		wantState(t, s, store.State{Records: all, Active: map[string]uint64{"a": 2}})
		mustCommit(t, s, "a", 1)
		wantState(t, s, store.State{Records: all, Active: map[string]uint64{"a": 1}})
		mustCommit(t, s, "a", 0)
		wantState(t, s, store.State{Records: all, Active: map[string]uint64{}})
		mustCommit(t, s, "a", 0) // deleting twice changes nothing
		mustCommit(t, s, "a", 2)
		wantState(t, s, store.State{Records: all, Active: map[string]uint64{"a": 2}})
	})

	t.Run("same content again is a no-op", func(t *testing.T) {
		s := open(t)
		a1 := rec("a", 1)
		mustCommit(t, s, "a", 1, a1)
		again := a1
		again.CreatedAt = a1.CreatedAt.In(time.FixedZone("west", -7*3600)) // the same instant
		again.Payload = bytes.Clone(a1.Payload)
		mustCommit(t, s, "a", 1, again, again)
		wantState(t, s, store.State{Records: []store.Record{a1}, Active: map[string]uint64{"a": 1}})
	})

	t.Run("refused commits change nothing", func(t *testing.T) {
		s := open(t)
		a1 := rec("a", 1)
		mustCommit(t, s, "a", 1, a1)
		before := store.State{Records: []store.Record{a1}, Active: map[string]uint64{"a": 1}}
		with := func(change func(*store.Record)) store.Record {
			r := a1
			r.Payload = bytes.Clone(a1.Payload)
			change(&r)
			return r
		}
		for _, tc := range []struct {
			name     string
			commit   string
			active   uint64
			add      []store.Record
			conflict bool
		}{
			{name: "empty name", commit: "", active: 0},
			{name: "record of another name", commit: "a", active: 1, add: []store.Record{rec("b", 1)}},
			{name: "version 0", commit: "a", active: 1, add: []store.Record{rec("a", 0)}},
			{name: "activate a version not stored", commit: "a", active: 2},
			{name: "other payload", commit: "a", active: 1, conflict: true,
				add: []store.Record{with(func(r *store.Record) { r.Payload[0]++ })}},
			{name: "other digest", commit: "a", active: 1, conflict: true,
				add: []store.Record{with(func(r *store.Record) { r.Digest += "x" })}},
			{name: "other time", commit: "a", active: 1, conflict: true,
				add: []store.Record{with(func(r *store.Record) { r.CreatedAt = r.CreatedAt.Add(time.Nanosecond) })}},
			{name: "conflict with a stored version after a good one", commit: "a", active: 2, conflict: true,
				add: []store.Record{rec("a", 2), with(func(r *store.Record) { r.Payload = nil })}},
			{name: "conflict inside one commit", commit: "a", active: 2, conflict: true,
				add: []store.Record{rec("a", 2), rec("a", 3), with(func(r *store.Record) { r.Version = 3 })}},
		} {
			err := s.Commit(t.Context(), tc.commit, tc.active, tc.add...)
			if err == nil {
				t.Errorf("%s: Commit succeeded, want an error", tc.name)
			} else if errors.Is(err, store.ErrConflict) != tc.conflict {
				t.Errorf("%s: Commit error %q; want it to wrap ErrConflict: %v", tc.name, err, tc.conflict)
			}
			wantState(t, s, before)
		}
	})

	t.Run("drop", func(t *testing.T) {
		s := open(t)
		for v := range uint64(4) {
			mustCommit(t, s, "a", v+1, rec("a", v+1))
		}
		mustCommit(t, s, "b", 1, rec("b", 1))
		mustDrop(t, s, "a", 2, 1)
		want := store.State{Records: []store.Record{rec("a", 3), rec("a", 4), rec("b", 1)}, Active: map[string]uint64{"a": 4, "b": 1}}
		wantState(t, s, want)
		mustDrop(t, s, "a", 1, 2, 9, 0) // dropped already, or never stored: skipped
		mustDrop(t, s, "a")
		mustDrop(t, s, "c", 1)
		wantState(t, s, want)

		mustCommit(t, s, "a", 0) // deleted: no version is active, any can go
		mustDrop(t, s, "a", 4, 4)
		wantState(t, s, store.State{Records: []store.Record{rec("a", 3), rec("b", 1)}, Active: map[string]uint64{"b": 1}})
		if err := s.Commit(t.Context(), "a", 4); err == nil {
			t.Error("activating a dropped version succeeded")
		}
		again := rec("a", 4)
		again.Payload = []byte("other content")
		mustCommit(t, s, "a", 4, again) // a dropped version is not stored: it may come back, with any content
		wantState(t, s, store.State{Records: []store.Record{rec("a", 3), again, rec("b", 1)}, Active: map[string]uint64{"a": 4, "b": 1}})
	})

	t.Run("refused drops change nothing", func(t *testing.T) {
		s := open(t)
		mustCommit(t, s, "a", 1, rec("a", 1))
		mustCommit(t, s, "a", 2, rec("a", 2))
		mustCommit(t, s, "a", 1) // roll back: version 1 is active, 2 is not
		before := store.State{Records: []store.Record{rec("a", 1), rec("a", 2)}, Active: map[string]uint64{"a": 1}}
		for _, tc := range []struct {
			name     string
			drop     string
			versions []uint64
			active   bool
		}{
			{name: "empty name", drop: "", versions: []uint64{2}},
			{name: "the active version", drop: "a", versions: []uint64{1}, active: true},
			{name: "the active version among others", drop: "a", versions: []uint64{2, 1}, active: true},
		} {
			err := s.Drop(t.Context(), tc.drop, tc.versions...)
			if err == nil {
				t.Errorf("%s: Drop succeeded, want an error", tc.name)
			} else if errors.Is(err, store.ErrActive) != tc.active {
				t.Errorf("%s: Drop error %q; want it to wrap ErrActive: %v", tc.name, err, tc.active)
			}
			wantState(t, s, before)
		}
	})

	t.Run("concurrent commits", func(t *testing.T) {
		s := open(t)
		const writers, versions = 6, 8
		var wg sync.WaitGroup
		var winners sync.Map // of error
		want := store.State{Active: map[string]uint64{}}
		for w := range writers {
			name := fmt.Sprintf("svc-%d", w)
			for v := range uint64(versions) {
				if v+1 > versions-2 || w%2 == 0 {
					want.Records = append(want.Records, rec(name, v+1))
				}
			}
			want.Active[name] = versions
			wg.Go(func() {
				for v := range uint64(versions) {
					if err := s.Commit(t.Context(), name, v+1, rec(name, v+1)); err != nil {
						t.Error(err)
					}
					if _, err := s.Load(t.Context()); err != nil {
						t.Error(err)
					}
					if w%2 == 1 && v >= 2 { // half the writers keep their newest two versions
						if err := s.Drop(t.Context(), name, v-1); err != nil {
							t.Error(err)
						}
					}
				}
			})
			// Every writer also tries to be first with its own content for one shared version.
			wg.Go(func() {
				r := rec("contested", 1)
				r.Payload = []byte(name)
				winners.Store(name, s.Commit(t.Context(), "contested", 1, r))
			})
		}
		wg.Wait()
		var won []string
		for name, v := range winners.Range {
			switch err, _ := v.(error); {
			case err == nil:
				won = append(won, name.(string))
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("contested commit of %s: %v, want nil or ErrConflict", name, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("contested version was committed by %v, want exactly one writer", won)
		}
		r := rec("contested", 1)
		r.Payload = []byte(won[0])
		want.Records = append([]store.Record{r}, want.Records...)
		want.Active["contested"] = 1
		wantState(t, s, want)
	})

	t.Run("canceled context", func(t *testing.T) {
		s := open(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Commit(ctx, "a", 1, rec("a", 1)); !errors.Is(err, context.Canceled) {
			t.Errorf("Commit with a canceled context: %v, want context.Canceled", err)
		}
		mustCommit(t, s, "b", 1, rec("b", 1))
		mustCommit(t, s, "b", 2, rec("b", 2))
		if err := s.Drop(ctx, "b", 1); !errors.Is(err, context.Canceled) {
			t.Errorf("Drop with a canceled context: %v, want context.Canceled", err)
		}
		if _, err := s.Load(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Load with a canceled context: %v, want context.Canceled", err)
		}
		wantState(t, s, store.State{Records: []store.Record{rec("b", 1), rec("b", 2)}, Active: map[string]uint64{"b": 2}})
	})

	t.Run("closed", func(t *testing.T) {
		s := open(t)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(t.Context(), "a", 1, rec("a", 1)); err == nil {
			t.Error("Commit after Close succeeded")
		}
		if _, err := s.Load(t.Context()); err == nil {
			t.Error("Load after Close succeeded")
		}
		if err := s.Drop(t.Context(), "a", 1); err == nil {
			t.Error("Drop after Close succeeded")
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// rec returns version v of name, with content that depends on both.
func rec(name string, v uint64) store.Record {
	return store.Record{
		Name:      name,
		Version:   v,
		Digest:    fmt.Sprintf("sha256:%s/%d", name, v),
		CreatedAt: time.Date(2026, 3, 1, 12, 0, int(v), int(v)*1001, time.UTC),
		Payload:   fmt.Appendf(nil, "descriptor set of %s, version %d", name, v),
	}
}

func mustOpen(t testing.TB, dir string) store.Store {
	t.Helper()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustLoad(t testing.TB, s store.Store) store.State {
	t.Helper()
	st, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustCommit(t testing.TB, s store.Store, name string, active uint64, add ...store.Record) {
	t.Helper()
	if err := s.Commit(t.Context(), name, active, add...); err != nil {
		t.Fatal(err)
	}
}

func mustDrop(t testing.TB, s store.Store, name string, versions ...uint64) {
	t.Helper()
	if err := s.Drop(t.Context(), name, versions...); err != nil {
		t.Fatal(err)
	}
}

// wantState fails t unless s loads want: the same records in order (times equal, and in UTC), and
// the same active versions.
func wantState(t testing.TB, s store.Store, want store.State) {
	t.Helper()
	got := mustLoad(t, s)
	if g, w := describe(got.Records), describe(want.Records); !slices.Equal(g, w) {
		t.Fatalf("records:\n got %q\nwant %q", g, w)
	}
	for _, r := range got.Records {
		if r.CreatedAt.Location() != time.UTC {
			t.Fatalf("%s v%d: CreatedAt in %v, want UTC", r.Name, r.Version, r.CreatedAt.Location())
		}
	}
	if !maps.Equal(got.Active, want.Active) {
		t.Fatalf("active: got %v, want %v", got.Active, want.Active)
	}
}

func describe(rs []store.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s v%d %s %s %q", r.Name, r.Version, r.Digest,
			r.CreatedAt.UTC().Format(time.RFC3339Nano), r.Payload))
	}
	return out
}
