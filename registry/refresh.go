package registry

import (
	"context"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/protogate/gateway/routing"
)

// startRefresherLocked (re)starts the periodic reflection refresh of a registration. The refresher asks
// the backend again at the active version's interval and registers a new version only when the
// descriptors' digest changed; a breaking change is refused and logged, never applied silently.
func (r *Registry) startRefresherLocked(name string) {
	r.startLoopLocked(name, func(ctx context.Context) { r.refreshLoop(ctx, name) })
}

// startLoopLocked (re)starts a background loop under key; stopRefresherLocked(key) or Close ends it.
func (r *Registry) startLoopLocked(key string, loop func(ctx context.Context)) {
	r.stopRefresherLocked(key)
	if r.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.refreshers[key] = cancel
	go loop(ctx)
}

func (r *Registry) stopRefresherLocked(name string) {
	if cancel, ok := r.refreshers[name]; ok {
		cancel()
		delete(r.refreshers, name)
	}
}

func (r *Registry) refreshLoop(ctx context.Context, name string) {
	for {
		r.mu.Lock()
		active := r.names[name].activeVersion()
		r.mu.Unlock()
		if active == nil || active.Refresh <= 0 {
			return
		}
		timer := time.NewTimer(active.Refresh)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		r.refreshOnce(ctx, active)
	}
}

// refreshOnce fetches the descriptors of active's backend again and registers them if they changed.
// A version on a named cluster asks the cluster's first endpoint, over its transport, as the
// config has them now.
func (r *Registry) refreshOnce(ctx context.Context, active *Version) {
	from, over := active.ReflectionEndpoint, routing.Transport{}
	if active.Cluster != "" {
		c, err := r.Base().cluster(active.Cluster)
		if err == nil {
			from, over, err = c.reflectionTarget()
		}
		if err != nil {
			r.refreshProblem(active.Name, "reflection refresh failed; keeping the active version", err)
			return
		}
	}
	files, err := r.fetch(ctx, from, over, active.Services)
	if err != nil {
		if ctx.Err() == nil {
			r.refreshProblem(active.Name, "reflection refresh failed; keeping the active version", err)
		}
		return
	}
	v := &Version{
		Name:               active.Name,
		Source:             active.Source,
		Endpoints:          slices.Clone(active.Endpoints),
		Cluster:            active.Cluster,
		Services:           slices.Clone(active.Services),
		Files:              files,
		ReflectionEndpoint: active.ReflectionEndpoint,
		Refresh:            active.Refresh,
	}
	if err := v.finish(); err != nil {
		r.refreshProblem(active.Name, "reflection refresh returned unusable descriptors; keeping the active version", err)
		return
	}
	if v.Digest == active.Digest {
		r.refreshFine(active.Name)
		return
	}
	if _, err := r.activate(ctx, v, false, false, active); err != nil {
		r.refreshProblem(active.Name, "reflection refresh found changed descriptors that were refused", err)
		return
	}
	r.refreshFine(active.Name)
}

// refreshProblem logs a refresh's problem with registration name, once while it stays the same: a
// refresh every second against a backend that keeps serving a breaking change would otherwise log it
// every second.
func (r *Registry) refreshProblem(name, msg string, err error) {
	line := msg + ": " + err.Error()
	if last, ok := r.refreshLog.Load(name); ok && last.(string) == line {
		return
	}
	r.refreshLog.Store(name, line)
	r.log.Warn(msg, "name", name, "err", err)
}

// refreshFine notes that a refresh of registration name went through, logging that its problem is
// over if one was logged.
func (r *Registry) refreshFine(name string) {
	if _, had := r.refreshLog.LoadAndDelete(name); had {
		r.log.Info("reflection refresh works again", "name", name)
	}
}

// fetch asks a backend's reflection, over transport t, for its descriptors, within the registry's
// reflection timeout.
func (r *Registry) fetch(ctx context.Context, endpoint string, t routing.Transport, services []string) (*protoregistry.Files, error) {
	rctx, cancel := context.WithTimeout(ctx, r.reflectTimeout)
	defer cancel()
	files, _, err := FilesFromReflectionOver(rctx, endpoint, t, services)
	return files, err
}

// pendingKey is the key of a pending config service's loop among the refreshers; registration names
// cannot contain '/', so it never collides with a refresher's.
func pendingKey(name string) string { return "config/" + name }

// awaitPendingLocked reconciles the loops asking pending config services' backends with r.base, after
// it replaced old: a service still pending from the same section keeps its loop (and its backoff), one
// no longer pending stops, and a newly pending one starts, with a warning.
func (r *Registry) awaitPendingLocked(old Spec) {
	for _, p := range old.Pending {
		if r.base.pending(p.Registration) == nil {
			r.stopRefresherLocked(pendingKey(p.Registration.Name))
			delete(r.waitErr, p.Registration.Name)
		}
	}
	for _, p := range r.base.Pending {
		key := pendingKey(p.Registration.Name)
		if _, running := r.refreshers[key]; running {
			continue
		}
		r.waitErr[p.Registration.Name] = p.Err
		r.log.Warn("config service not served yet: its backend's reflection did not answer; serving the rest and asking again in the background",
			"name", p.Registration.Name, "endpoint", p.Registration.reflectFrom, "err", p.Err)
		reg := p.Registration
		r.startLoopLocked(key, func(ctx context.Context) { r.awaitReflection(ctx, reg) })
	}
}

// awaitReflection asks the backend of pending config service reg for its descriptors, waiting
// r.retryFirst and then twice as long each time up to r.retryMax, until it answers and the service is
// added to the base and served. It ends early when ctx is cancelled: the service is no longer pending.
func (r *Registry) awaitReflection(ctx context.Context, reg *Registration) {
	wait := r.retryFirst
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		wait = min(2*wait, r.retryMax)
		files, err := r.fetch(ctx, reg.reflectFrom, reg.reflectOver, reg.Services)
		if err == nil {
			var done bool
			if done, err = r.promote(ctx, reg, files); done {
				return
			}
		}
		r.mu.Lock()
		if ctx.Err() == nil { // cancelled under the lock: the service is no longer pending
			r.waitErr[reg.Name] = err
		}
		r.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("config service still not served: asking its backend's reflection again later",
			"name", reg.Name, "endpoint", reg.reflectFrom, "retry_in", wait.String(), "err", err)
	}
}

// promote moves pending config service reg, whose backend answered with files, from the base's
// Pending to its Registrations and publishes the snapshot that serves it. It is done (true) when the
// service serves or is no longer pending; a snapshot that does not compile with it is an error, and
// the service stays pending.
func (r *Registry) promote(ctx context.Context, reg *Registration, files *protoregistry.Files) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() != nil || r.closed || r.base.pending(reg) == nil {
		return true, nil // cancelled under the lock: a reload or Close took the service off the pending list
	}
	loaded := *r.base.pending(reg).Registration
	loaded.Files = files
	old := r.base
	base := old
	base.Registrations = append(slices.Clone(old.Registrations), &loaded)
	base.Pending = slices.DeleteFunc(slices.Clone(old.Pending), func(p PendingRegistration) bool { return sameSection(p.Registration, reg) })
	r.base = base
	snap, err := r.compileLocked(nil)
	if err != nil {
		r.base = old
		return false, err
	}
	r.publishLocked(snap)
	r.stopRefresherLocked(pendingKey(reg.Name)) // this loop's own: it ends here
	delete(r.waitErr, reg.Name)
	r.log.Info("config service served: its backend's reflection answered", "name", reg.Name, "endpoint", reg.reflectFrom,
		"snapshot", snap.Version())
	return true, nil
}

// Pending lists the config services waiting for their backend's reflection, by name, each with why
// its backend last did not answer.
func (r *Registry) Pending() []PendingRegistration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]PendingRegistration, 0, len(r.base.Pending))
	for _, p := range r.base.Pending {
		out = append(out, PendingRegistration{Registration: p.Registration, Err: r.waitErr[p.Registration.Name]})
	}
	slices.SortFunc(out, func(a, b PendingRegistration) int { return strings.Compare(a.Registration.Name, b.Registration.Name) })
	return out
}

// ReflectionEndpoint is where a pending service's descriptors are asked for.
func (p PendingRegistration) ReflectionEndpoint() string { return p.Registration.reflectFrom }
