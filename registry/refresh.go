package registry

import (
	"context"
	"slices"
	"time"
)

// startRefresherLocked (re)starts the periodic reflection refresh of a registration. The refresher asks
// the backend again at the active version's interval and registers a new version only when the
// descriptors' digest changed; a breaking change is refused and logged, never applied silently.
func (r *Registry) startRefresherLocked(name string) {
	r.stopRefresherLocked(name)
	if r.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.refreshers[name] = cancel
	go r.refreshLoop(ctx, name)
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
func (r *Registry) refreshOnce(ctx context.Context, active *Version) {
	rctx, cancel := context.WithTimeout(ctx, r.reflectTimeout)
	defer cancel()
	files, _, err := FilesFromReflection(rctx, active.ReflectionEndpoint, active.Services)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("reflection refresh failed; keeping the active version", "name", active.Name, "err", err)
		}
		return
	}
	v := &Version{
		Name:               active.Name,
		Source:             active.Source,
		Endpoints:          slices.Clone(active.Endpoints),
		Services:           slices.Clone(active.Services),
		Files:              files,
		ReflectionEndpoint: active.ReflectionEndpoint,
		Refresh:            active.Refresh,
	}
	if err := v.finish(); err != nil {
		r.log.Warn("reflection refresh returned unusable descriptors; keeping the active version", "name", active.Name, "err", err)
		return
	}
	if v.Digest == active.Digest {
		return
	}
	if _, err := r.activate(ctx, v, false, false, active); err != nil {
		r.log.Warn("reflection refresh found changed descriptors that were refused", "name", active.Name, "err", err)
	}
}
