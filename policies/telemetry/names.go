package telemetry

import (
	"sync"
	"sync/atomic"
)

// cowCache remembers values built from keys (span names from methods, metric series from labels)
// so that the hot path pays a map lookup instead of a build. Lookups take no lock: the map is
// replaced whole, copied on a miss, and stops growing at max entries (keys may come from clients;
// beyond the bound, values are built per call and not kept).
type cowCache[K comparable, V any] struct {
	max int
	m   atomic.Pointer[map[K]V]
	mu  sync.Mutex // serialises misses
}

// lookup returns the value cached for k, if any.
func (c *cowCache[K, V]) lookup(k K) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// full reports whether the cache holds max entries: it keeps no more.
func (c *cowCache[K, V]) full() bool {
	m := c.m.Load()
	return m != nil && len(*m) >= c.max
}

// get returns the value cached for k, building it with build on a miss.
func (c *cowCache[K, V]) get(k K, build func(K) V) V {
	if v, ok := c.lookup(k); ok {
		return v
	}
	v := build(k)
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	n := 0
	if old != nil {
		if cached, ok := (*old)[k]; ok { // built meanwhile by another miss: keep one
			return cached
		}
		n = len(*old)
	}
	if n >= c.max {
		return v
	}
	next := make(map[K]V, n+1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[k] = v
	c.m.Store(&next)
	return v
}

// maxCachedNames bounds a nameCache: method names come from clients, and a gateway serves far fewer
// methods than this.
const maxCachedNames = 4096

// nameCache remembers the span names built from a key (a method, an HTTP method), so that naming a
// span costs a map lookup instead of a string concatenation per request.
type nameCache struct {
	build func(key string) string
	c     cowCache[string, string]
}

func newNameCache(build func(string) string) *nameCache {
	return &nameCache{build: build, c: cowCache[string, string]{max: maxCachedNames}}
}

// get returns build(key), cached.
func (c *nameCache) get(key string) string { return c.c.get(key, c.build) }

// lookup returns build(key) if it is cached, building nothing: for a key that may be the client's
// invention, which only get (given the key once it is known to be no invention) caches.
func (c *nameCache) lookup(key string) (string, bool) { return c.c.lookup(key) }
