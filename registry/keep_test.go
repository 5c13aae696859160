package registry_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/registry/store"
)

// endpoint is the upstream address of the i-th version a test registers: a new address makes a new
// version of the same descriptors.
func endpoint(i int) string { return fmt.Sprintf("127.0.0.1:%d", 41100+i) }

// wantKept fails t unless the registry lists exactly versions (newest first) of name, with active
// marked, and the store holds exactly those.
func wantKept(t testing.TB, f *fixture, name string, active uint64, versions ...uint64) {
	t.Helper()
	resp, err := f.admin.ListVersions(t.Context(), &adminv1.ListVersionsRequest{Name: name})
	if err != nil {
		t.Fatalf("ListVersions(%s): %v", name, err)
	}
	var listed []uint64
	var marked uint64
	for _, v := range resp.GetVersions() {
		listed = append(listed, v.GetVersion())
		if v.GetActive() {
			marked = v.GetVersion()
		}
	}
	if !slices.Equal(listed, versions) || marked != active {
		t.Errorf("%s: ListVersions lists %v with %d active, want %v with %d active", name, listed, marked, versions, active)
	}
	var stored []uint64
	st := f.state(t)
	for _, r := range st.Records {
		if r.Name == name {
			stored = append(stored, r.Version)
		}
	}
	slices.Reverse(stored)
	if !slices.Equal(stored, versions) || st.Active[name] != active {
		t.Errorf("%s: the store holds %v with %d active, want %v with %d active", name, stored, st.Active[name], versions, active)
	}
}

// TestRegistryKeepVersions: a registration keeps its newest keep_versions versions and the active
// one; the others are dropped from memory and store, version numbers go on from the newest, and a
// rollback to a dropped version says it is no longer kept.
func TestRegistryKeepVersions(t *testing.T) {
	ctx := t.Context()
	set := generatedSet(t, usersv1.File_shop_users_v1_users_proto)
	f := newFixture(t, store.NewMemory(), registry.WithKeepVersions(3))
	f.open(t, registry.Spec{})
	for i := 1; i <= 5; i++ {
		f.register(t, setReq("users", set, endpoint(i)))
	}
	wantKept(t, f, "users", 5, 5, 4, 3)

	before := f.view(t)
	_, err := f.reg.Rollback(ctx, "users", 2)
	wantStatus(t, err, codes.NotFound,
		`version 2 of registration "users" is no longer kept (keep_versions: 3 keeps the newest 3 and the active one)`)
	f.unchanged(t, before)
	_, err = f.reg.Rollback(ctx, "users", 6)
	wantStatus(t, err, codes.NotFound, `registration "users" has no version 6`)
	f.unchanged(t, before)

	// A rollback adds no version, so it drops none: the oldest kept one is active now.
	if v, err := f.reg.Rollback(ctx, "users", 3); err != nil || v.Number != 3 {
		t.Fatalf("Rollback to 3 = %v, %v", v, err)
	}
	wantKept(t, f, "users", 3, 5, 4, 3)
	before = f.view(t)
	_, err = f.reg.Rollback(ctx, "users", 0)
	wantStatus(t, err, codes.FailedPrecondition, `registration "users" keeps no version before 3 (keep_versions: 3`)
	f.unchanged(t, before)

	// The next version is numbered after the newest, and once version 3 is no longer active it goes.
	if resp := f.register(t, setReq("users", set, endpoint(6))); resp.GetRegistration().GetVersion() != 6 {
		t.Fatalf("registration after pruning = version %d, want 6", resp.GetRegistration().GetVersion())
	}
	wantKept(t, f, "users", 6, 6, 5, 4)
	f.register(t, setReq("users", set, endpoint(7)))
	wantKept(t, f, "users", 7, 7, 6, 5)

	// A deleted registration keeps its newest versions like any other, and goes on from them.
	if _, err := f.reg.Delete(ctx, "users"); err != nil {
		t.Fatal(err)
	}
	wantKept(t, f, "users", 0, 7, 6, 5)
	f.register(t, setReq("users", set, endpoint(8)))
	wantKept(t, f, "users", 8, 8, 7, 6)
}

// TestRegistryKeepVersionsAtOpen: a gateway started with a smaller keep_versions over a data dir
// drops, at Open, the versions it no longer keeps, from MANIFEST and records/ alike, but never the
// active one, however old.
func TestRegistryKeepVersionsAtOpen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	set := generatedSet(t, usersv1.File_shop_users_v1_users_proto)
	extra := map[string]string{"acme/extra/v1/extra.proto": extraProto}
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, st, registry.WithKeepVersions(5))
	f.open(t, registry.Spec{})
	for i := 1; i <= 6; i++ {
		f.register(t, setReq("users", set, endpoint(i)))
	}
	if _, err := f.reg.Rollback(ctx, "users", 2); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		f.register(t, protosReq("extra", extra, nil, endpoint(i)))
	}
	if _, err := f.reg.Delete(ctx, "extra"); err != nil {
		t.Fatal(err)
	}
	wantKept(t, f, "users", 2, 6, 5, 4, 3, 2)
	wantKept(t, f, "extra", 0, 4, 3, 2, 1)
	f.reg.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	reopen := func(keep int) *fixture {
		t.Helper()
		st, err := store.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		g := newFixture(t, st, registry.WithKeepVersions(keep))
		g.open(t, registry.Spec{})
		return g
	}
	g := reopen(2)
	wantKept(t, g, "users", 2, 6, 5, 2)
	wantKept(t, g, "extra", 0, 4, 3)
	if v, err := g.reg.Get("users"); err != nil || v.Number != 2 {
		t.Errorf("users serves %v, %v after the restart, want version 2", v, err)
	}
	if records, err := os.ReadDir(filepath.Join(dir, "records")); err != nil || len(records) != 5 {
		t.Errorf("records/ holds %d files (%v), want the 5 kept versions' only", len(records), err)
	}
	_, err = g.reg.Rollback(ctx, "users", 3)
	wantStatus(t, err, codes.NotFound, `version 3 of registration "users" is no longer kept (keep_versions: 2 keeps`)

	// The history goes on from the newest version, and version 2 goes once it is not active.
	if resp := g.register(t, setReq("users", set, endpoint(7))); resp.GetRegistration().GetVersion() != 7 {
		t.Fatalf("registration after the restart = version %d, want 7", resp.GetRegistration().GetVersion())
	}
	wantKept(t, g, "users", 7, 7, 6)
	g.reg.Close()
	g.store.Close()

	g = reopen(2) // nothing more to drop
	wantKept(t, g, "users", 7, 7, 6)
	wantKept(t, g, "extra", 0, 4, 3)
}

// dropFailingStore is a store whose Drop fails.
type dropFailingStore struct{ store.Store }

func (dropFailingStore) Drop(context.Context, string, ...uint64) error {
	return errors.New("disk full")
}

// TestRegistryKeepVersionsDropFails: a registration the store saved stands when its old versions
// cannot be dropped; they stay, in memory as in the store, until a drop works.
func TestRegistryKeepVersionsDropFails(t *testing.T) {
	set := generatedSet(t, usersv1.File_shop_users_v1_users_proto)
	mem := store.NewMemory()
	f := newFixture(t, dropFailingStore{mem}, registry.WithKeepVersions(2))
	f.open(t, registry.Spec{})
	for i := 1; i <= 3; i++ {
		f.register(t, setReq("users", set, endpoint(i)))
	}
	wantKept(t, f, "users", 3, 3, 2, 1)
	f.reg.Close()

	g := newFixture(t, mem, registry.WithKeepVersions(2))
	g.open(t, registry.Spec{})
	wantKept(t, g, "users", 3, 3, 2)
}
