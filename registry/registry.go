package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	"github.com/protogate/gateway/registry/store"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/schema"
)

// Registry holds the registrations backend teams make at run time, with their history, and turns every
// accepted change into a published snapshot. It is the only writer of snapshots: registrations,
// deletions, rollbacks, reflection refreshes and config reloads all go through it, one at a time.
//
// A change is validated by compiling the snapshot it would produce; only a snapshot that compiles is
// committed to the store and then published. Anything that fails leaves the store and the serving
// snapshot as they were.
type Registry struct {
	store   store.Store
	pool    *routing.Pool
	publish func(*Snapshot)
	log     *slog.Logger
	now     func() time.Time

	keep           int // the newest versions of each registration kept (the active one is kept too)
	reflectTimeout time.Duration
	retryFirst     time.Duration // pending config services: the first wait before asking again
	retryMax       time.Duration // and the longest, as the wait doubles

	mu          sync.Mutex // guards everything below
	base        Spec       // from the config: clusters, routes and static registrations
	names       map[string]*history
	snapVersion uint64
	current     *Snapshot
	refreshers  map[string]context.CancelFunc // by registration name; pending config services' by pendingKey
	waitErr     map[string]error              // pending config services: why their backend last did not answer
	refreshLog  sync.Map                      // registration name -> the last refresh problem logged (string)
	closed      bool
}

// history is the kept versions of one registration, and which one serves (0: none). Numbers are
// never reused: a number below next() that is not among versions was dropped.
type history struct {
	versions []*Version // ascending by number
	active   uint64
}

// refreshing reports whether the active version's descriptors are refreshed from its backend: it
// asks for a refresh, and it is the newest version. A rollback to an older one pauses the refresh,
// which would otherwise undo it at its next interval, until a registration makes a newer version
// (registering the active version's content again does, see activate) or a rollback returns to the
// newest; a restart keeps it paused.
func (h *history) refreshing() bool {
	v := h.activeVersion()
	return v != nil && v.Refresh > 0 && v == h.versions[len(h.versions)-1]
}

func (h *history) version(n uint64) *Version {
	for _, v := range h.versions {
		if v.Number == n {
			return v
		}
	}
	return nil
}

func (h *history) activeVersion() *Version {
	if h == nil || h.active == 0 {
		return nil
	}
	return h.version(h.active)
}

func (h *history) next() uint64 {
	if len(h.versions) == 0 {
		return 1
	}
	return h.versions[len(h.versions)-1].Number + 1
}

// unkept returns the numbers of the versions beyond the newest keep, but the active one.
func (h *history) unkept(keep int) []uint64 {
	var out []uint64
	for _, v := range h.versions[:max(len(h.versions)-keep, 0)] {
		if v.Number != h.active {
			out = append(out, v.Number)
		}
	}
	return out
}

// Option configures a Registry.
type Option func(*Registry)

// WithLogger sets the logger for state changes (one line per change, never per request).
func WithLogger(l *slog.Logger) Option { return func(r *Registry) { r.log = l } }

// WithKeepVersions sets how many versions of each registration are kept, newest first, in memory
// and in the store; the active version is kept too, however old. Older versions are dropped and
// can no longer be rolled back to. Zero or less means config.DefaultKeepVersions.
func WithKeepVersions(n int) Option {
	return func(r *Registry) {
		if n > 0 {
			r.keep = n
		}
	}
}

// WithReflectionTimeout bounds fetching descriptors by server reflection (default 10s).
func WithReflectionTimeout(d time.Duration) Option {
	return func(r *Registry) { r.reflectTimeout = d }
}

// WithReflectionRetry sets how a pending config service's backend is asked again: after first, then
// after twice as long each time, up to max (default 1s up to 30s).
func WithReflectionRetry(first, max time.Duration) Option {
	return func(r *Registry) { r.retryFirst, r.retryMax = first, max }
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(r *Registry) { r.now = now } }

// New returns a registry persisting to st, taking upstream endpoints from pool, and handing every
// snapshot it builds to publish. Call Open before anything else.
func New(st store.Store, pool *routing.Pool, publish func(*Snapshot), opts ...Option) *Registry {
	r := &Registry{
		store:          st,
		pool:           pool,
		publish:        publish,
		log:            slog.Default(),
		now:            time.Now,
		keep:           config.DefaultKeepVersions,
		reflectTimeout: 10 * time.Second,
		retryFirst:     time.Second,
		retryMax:       30 * time.Second,
		names:          make(map[string]*history),
		refreshers:     make(map[string]context.CancelFunc),
		waitErr:        make(map[string]error),
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Open loads the stored registrations, compiles them with base (the config's clusters, routes and
// static registrations) and publishes the first snapshot. It fails, changing nothing, when the store
// cannot be read or what it holds does not compile. Once the snapshot serves, it drops the versions
// beyond those it keeps (a data dir from a gateway that kept more, or kept everything). The base's
// pending services serve once their backends answer (see awaitReflection).
func (r *Registry) Open(ctx context.Context, base Spec) (*Snapshot, error) {
	state, err := r.store.Load(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]*history)
	for _, rec := range state.Records {
		v, err := decodeVersion(rec)
		if err != nil {
			return nil, err
		}
		h := names[rec.Name]
		if h == nil {
			h = &history{}
			names[rec.Name] = h
		}
		h.versions = append(h.versions, v)
	}
	for name, n := range state.Active {
		h := names[name]
		if h == nil || h.version(n) == nil {
			return nil, fmt.Errorf("store: registration %q is active at version %d, which is not stored", name, n)
		}
		h.active = n
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	oldNames, oldBase := r.names, r.base
	r.names, r.base = names, base
	snap, err := r.compileLocked(nil)
	if err != nil {
		r.names, r.base = oldNames, oldBase
		if errors.Is(err, ErrPolicies) {
			return nil, err // the config's policies: whatever the registrations are, they would not compile
		}
		return nil, fmt.Errorf("the registrations (the config file's services and any stored ones) do not compile together: %w", err)
	}
	r.publishLocked(snap)
	for _, name := range slices.Sorted(maps.Keys(names)) {
		r.pruneLocked(ctx, name)
		if names[name].refreshing() {
			r.startRefresherLocked(name)
		}
	}
	r.awaitPendingLocked(Spec{})
	return snap, nil
}

// SetBase replaces the config-derived part of the snapshot (a config reload). On error the serving
// snapshot is unchanged. A pending service of base whose section has meanwhile been loaded (its
// backend answered since the caller read Base) serves with the descriptors it got.
func (r *Registry) SetBase(base Spec) (*Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.base
	regs, pending := slices.Clone(base.Registrations), []PendingRegistration(nil)
	for _, p := range base.Pending {
		if loaded := old.registration(p.Registration); loaded != nil {
			regs = append(regs, loaded)
		} else {
			pending = append(pending, p)
		}
	}
	base.Registrations, base.Pending = regs, pending
	r.base = base
	snap, err := r.compileLocked(nil)
	if err != nil {
		r.base = old
		return nil, err
	}
	prev := r.current
	r.publishLocked(snap)
	r.awaitPendingLocked(old)
	r.warnBreakingLocked(old, base)
	if prev != nil {
		// The config's GraphQL options and its services' descriptors both shape the schema.
		if breaks := schema.BreakingChanges(prev.GraphQL(), snap.GraphQL()); len(breaks) > 0 {
			r.log.Warn("config reload changed the GraphQL schema incompatibly: clients of the previous schema may fail",
				"breaking_changes", strings.Join(breaks, "; "))
		}
	}
	return snap, nil
}

// warnBreakingLocked logs the breaking changes of each config service whose descriptors a reload
// changed: the config file is where they change, so they apply, but clients built on the old
// descriptors may fail, and an operator should hear of it as an admin registration would refuse it.
func (r *Registry) warnBreakingLocked(old, base Spec) {
	for _, reg := range base.Registrations {
		i := slices.IndexFunc(old.Registrations, func(o *Registration) bool { return o.Name == reg.Name })
		if i < 0 || old.Registrations[i].Files == reg.Files {
			continue
		}
		prev := old.Registrations[i]
		names, err := exposedNames(prev)
		if err != nil {
			continue
		}
		if breaks := BreakingChanges(prev.Files, reg.Files, names); len(breaks) > 0 {
			r.log.Warn("config service changed incompatibly: clients built on its previous descriptors may fail",
				"name", reg.Name, "breaking_changes", strings.Join(breaks, "; "))
		}
	}
}

// Base returns the config-derived part of the serving state: what StaticOptions.Previous takes.
func (r *Registry) Base() Spec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.base
}

// Current returns the snapshot most recently published.
func (r *Registry) Current() *Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

// Close stops the reflection refreshers. It does not close the store.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for name, cancel := range r.refreshers {
		cancel()
		delete(r.refreshers, name)
	}
}

// override replaces (or, with a nil version, removes) one registration when compiling a candidate.
type override struct {
	name    string
	version *Version
}

// compileLocked compiles base plus every active registration, with o applied.
func (r *Registry) compileLocked(o *override) (*Snapshot, error) {
	spec := r.base // clusters, routes and front options; registrations below
	spec.Registrations = slices.Clone(r.base.Registrations)
	for _, name := range slices.Sorted(maps.Keys(r.names)) {
		if o != nil && o.name == name {
			continue
		}
		if v := r.names[name].activeVersion(); v != nil {
			spec.Registrations = append(spec.Registrations, v.registration())
		}
	}
	if o != nil && o.version != nil {
		spec.Registrations = append(spec.Registrations, o.version.registration())
	}
	return Compile(spec, r.pool, r.snapVersion+1)
}

func (r *Registry) publishLocked(snap *Snapshot) {
	r.snapVersion = snap.Version()
	r.current = snap
	r.publish(snap)
}

func (r *Registry) isStatic(name string) bool {
	return r.base.hasStatic(name)
}

// Register validates and activates a new version of a registration; see AdminService.Register.
func (r *Registry) Register(ctx context.Context, req *adminv1.RegisterRequest) (*adminv1.RegisterResponse, error) {
	if err := validateRegisterRequest(req); err != nil {
		return nil, err
	}
	var cluster *ClusterSpec
	if name := req.GetCluster(); name != "" {
		c, err := r.Base().cluster(name)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "registration %q: %v", req.GetName(), err)
		}
		cluster = &c
	}
	v, err := r.resolve(ctx, req, cluster)
	if err != nil {
		return nil, err
	}
	return r.activate(ctx, v, req.GetAllowBreaking(), req.GetDryRun(), nil)
}

// activate makes v the active version of its registration unless it changes nothing.
// When base is not nil, v replaces exactly that version: if another became active meanwhile (a
// registration or rollback raced a reflection refresh), nothing changes.
func (r *Registry) activate(ctx context.Context, v *Version, allowBreaking, dryRun bool, base *Version) (*adminv1.RegisterResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, status.Error(codes.Unavailable, "the registry is shutting down")
	}
	if r.isStatic(v.Name) {
		return nil, status.Errorf(codes.FailedPrecondition, "registration %q is defined in the config file; change it there", v.Name)
	}
	h := r.names[v.Name]
	if h == nil {
		h = &history{}
	}
	active := h.activeVersion()
	if base != nil && active != base {
		return nil, status.Errorf(codes.Aborted, "registration %q changed while its descriptors were refreshed", v.Name)
	}
	// The same content as the active version changes nothing, unless the active version's refresh is
	// paused (a rollback made an older version active): then the request makes a new version of that
	// content, the newest, so that the refresh runs again, as the rollback's log line promises.
	resumes := false
	if active != nil && active.same(v) {
		if v.Refresh == 0 || h.refreshing() {
			return &adminv1.RegisterResponse{Registration: r.describeVersionLocked(active, true), Changed: false}, nil
		}
		resumes = true
	}
	var breaks []string
	if active != nil {
		breaks = append(BreakingChanges(active.Files, v.Files, active.Exposed), unexposed(active, v)...)
	}
	v.Number = h.next()
	v.Created = r.now()

	snap, err := r.compileLocked(&override{name: v.Name, version: v})
	if err != nil {
		if len(breaks) > 0 && !allowBreaking {
			slices.Sort(breaks)
			return nil, breakingError(v.Name, active.Number, breaks)
		}
		code := codes.InvalidArgument
		if errors.Is(err, ErrConflict) {
			code = codes.AlreadyExists
		}
		return nil, status.Errorf(code, "registration %q: %s", v.Name, withoutName(v.Name, err))
	}
	if active != nil {
		// What GraphQL clients see is compared on the schemas served before and after: the
		// descriptors alone do not say it (a method that becomes a query, a gateway option that
		// hides or renames a root field, a new required argument, a link that no longer resolves).
		breaks = append(breaks, schema.BreakingChanges(r.current.GraphQL(), snap.GraphQL())...)
		slices.Sort(breaks)
		if len(breaks) > 0 && !allowBreaking {
			snap.Retire(r.pool)
			return nil, breakingError(v.Name, active.Number, breaks)
		}
	}
	resp := &adminv1.RegisterResponse{Changed: true, BreakingChanges: breaks}
	if dryRun {
		snap.Retire(r.pool)
		resp.Registration = r.describeVersionLocked(v, false)
		return resp, nil
	}
	rec, err := v.record()
	if err != nil {
		snap.Retire(r.pool)
		return nil, status.Errorf(codes.Internal, "registration %q: %v", v.Name, err)
	}
	if err := r.store.Commit(ctx, v.Name, v.Number, rec); err != nil {
		snap.Retire(r.pool)
		return nil, status.Errorf(codes.Unavailable, "registration %q: saving: %v", v.Name, err)
	}
	h.versions = append(h.versions, v)
	h.active = v.Number
	r.names[v.Name] = h
	r.publishLocked(snap)
	r.log.Info("registration active", "name", v.Name, "version", v.Number, "digest", v.Digest[:12],
		"services", strings.Join(v.Exposed, ","), "snapshot", snap.Version())
	r.pruneLocked(context.WithoutCancel(ctx), v.Name) // part of the change just made, whoever stops waiting
	if v.Refresh > 0 {
		if resumes {
			r.log.Info("reflection refresh resumed: registered again, the active version is the newest", "name", v.Name, "version", v.Number)
		}
		r.startRefresherLocked(v.Name)
	} else {
		r.stopRefresherLocked(v.Name)
	}
	resp.Registration = r.describeVersionLocked(v, true)
	return resp, nil
}

// Delete stops serving a registration; its history is kept. A registration deleted already is left
// as it is, and reported unchanged: deleting is idempotent, as HTTP DELETE is.
func (r *Registry) Delete(ctx context.Context, name string) (changed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isStatic(name) {
		return false, status.Errorf(codes.FailedPrecondition, "registration %q is defined in the config file; remove it there", name)
	}
	h := r.names[name]
	if h == nil || len(h.versions) == 0 {
		return false, notFound(name)
	}
	if h.activeVersion() == nil {
		return false, nil
	}
	snap, err := r.compileLocked(&override{name: name})
	if err != nil {
		return false, status.Errorf(codes.FailedPrecondition, "deleting %q: %v", name, err)
	}
	if err := r.store.Commit(ctx, name, 0); err != nil {
		snap.Retire(r.pool)
		return false, status.Errorf(codes.Unavailable, "deleting %q: saving: %v", name, err)
	}
	h.active = 0
	r.stopRefresherLocked(name)
	r.publishLocked(snap)
	r.log.Info("registration deleted", "name", name, "snapshot", snap.Version())
	return true, nil
}

// Rollback re-activates version n of a registration, or the version before the active one when n is 0.
func (r *Registry) Rollback(ctx context.Context, name string, n uint64) (*Version, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isStatic(name) {
		return nil, status.Errorf(codes.FailedPrecondition, "registration %q is defined in the config file", name)
	}
	h := r.names[name]
	if h == nil || len(h.versions) == 0 {
		return nil, notFound(name)
	}
	if n == 0 {
		if h.active == 0 {
			return nil, status.Errorf(codes.FailedPrecondition, "registration %q is deleted: name the version to re-activate", name)
		}
		for _, v := range h.versions {
			if v.Number < h.active {
				n = v.Number
			}
		}
		switch {
		case n == 0 && h.versions[0].Number > 1: // the ones before were dropped
			return nil, status.Errorf(codes.FailedPrecondition, "registration %q keeps no version before %d (%s)", name, h.active, r.keeping())
		case n == 0:
			return nil, status.Errorf(codes.FailedPrecondition, "registration %q has no version before %d", name, h.active)
		}
	}
	target := h.version(n)
	switch {
	case target == nil && n < h.next(): // numbers are never reused: this one was dropped
		return nil, status.Errorf(codes.NotFound, "version %d of registration %q is no longer kept (%s)", n, name, r.keeping())
	case target == nil:
		return nil, status.Errorf(codes.NotFound, "registration %q has no version %d", name, n)
	}
	if n == h.active {
		return target, nil
	}
	snap, err := r.compileLocked(&override{name: name, version: target})
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "rolling %q back to version %d: %v", name, n, err)
	}
	if err := r.store.Commit(ctx, name, n); err != nil {
		snap.Retire(r.pool)
		return nil, status.Errorf(codes.Unavailable, "rolling %q back: saving: %v", name, err)
	}
	h.active = n
	r.publishLocked(snap)
	r.log.Info("registration rolled back", "name", name, "version", n, "snapshot", snap.Version())
	switch {
	case h.refreshing():
		r.startRefresherLocked(name)
	case target.Refresh > 0:
		r.stopRefresherLocked(name)
		r.log.Info("reflection refresh paused: the active version is not the newest; register again to resume", "name", name, "version", n)
	default:
		r.stopRefresherLocked(name)
	}
	return target, nil
}

// Get returns the active version of a registration made through the admin API. Describe covers the
// config file's services too.
func (r *Registry) Get(name string) (*Version, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.names[name].activeVersion()
	if v == nil {
		return nil, notFound(name)
	}
	return v, nil
}

// List returns the active version of every registration made through the admin API, by name.
// DescribeAll covers the config file's services too.
func (r *Registry) List() []*Version {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Version
	for _, h := range r.names {
		if v := h.activeVersion(); v != nil {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b *Version) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Versions returns the kept versions of a registration, newest first, and the active version number.
// A service of the config file has none: it is refused.
func (r *Registry) Versions(name string) ([]*Version, uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isStatic(name) {
		return nil, 0, status.Errorf(codes.FailedPrecondition, "registration %q is defined in the config file; it has no versions", name)
	}
	h := r.names[name]
	if h == nil || len(h.versions) == 0 {
		return nil, 0, notFound(name)
	}
	out := slices.Clone(h.versions)
	slices.Reverse(out)
	return out, h.active, nil
}

// pruneLocked drops the versions of registration name beyond the newest r.keep, but the active one:
// from the store, then from memory. It never undoes the change it follows: versions the store could
// not drop are kept, in the store and in memory alike, and dropped after the next change or at the
// next start.
func (r *Registry) pruneLocked(ctx context.Context, name string) {
	h := r.names[name]
	drop := h.unkept(r.keep)
	if len(drop) == 0 {
		return
	}
	if err := r.store.Drop(ctx, name, drop...); err != nil {
		r.log.Warn("old versions not dropped: kept until the registration's next version or a restart",
			"name", name, "versions", drop, "keep_versions", r.keep, "err", err)
		return
	}
	h.versions = slices.DeleteFunc(h.versions, func(v *Version) bool { return slices.Contains(drop, v.Number) })
	r.log.Info("old versions dropped", "name", name, "versions", drop, "keep_versions", r.keep)
}

// keeping says which versions the registry keeps, for errors about those it no longer has.
func (r *Registry) keeping() string {
	return fmt.Sprintf("keep_versions: %d keeps the newest %[1]d and the active one", r.keep)
}

func notFound(name string) error {
	return status.Errorf(codes.NotFound, "no registration named %q", name)
}

// unexposed lists, as breaking changes, the services active exposes that v declares but no longer
// exposes (a narrower --service): their clients lose them as surely as if they were removed.
func unexposed(active, v *Version) []string {
	var out []string
	for _, name := range active.Exposed {
		if _, kept := slices.BinarySearch(v.Exposed, name); kept {
			continue
		}
		if _, declared := findService(v.Files, name); declared {
			out = append(out, name+": service no longer exposed")
		}
	}
	return out
}

func breakingError(name string, active uint64, breaks []string) error {
	return status.Errorf(codes.FailedPrecondition,
		"registration %q: %d breaking change(s) against active version %d (pass --allow-breaking to accept): %s",
		name, len(breaks), active, strings.Join(breaks, "; "))
}

// withoutName is err's message for a refusal of registration name, which the caller names first:
// a conflict found in name's own files names it as well (it names the registration whose file it
// is, which may be another's), and is not to name it twice.
func withoutName(name string, err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, ErrConflict.Error()+": registration "+strconv.Quote(name)+": "); ok {
		return ErrConflict.Error() + ": " + rest
	}
	return msg
}
