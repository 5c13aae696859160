package telemetry

import (
	"sync"
	"sync/atomic"
)

// maxCachedNames bounds a nameCache: method names come from clients, and a gateway serves far fewer
// methods than this.
const maxCachedNames = 4096

// nameCache remembers the span names built from a key (a method, an HTTP method), so that naming a
// span costs a map lookup instead of a string concatenation per request. Lookups take no lock: the
// map is replaced whole, copied on a miss, and stops growing at maxCachedNames.
type nameCache struct {
	build func(key string) string
	m     atomic.Pointer[map[string]string]
	mu    sync.Mutex // serialises misses
}

func newNameCache(build func(string) string) *nameCache { return &nameCache{build: build} }

// get returns build(key), cached.
func (c *nameCache) get(key string) string {
	if m := c.m.Load(); m != nil {
		if name, ok := (*m)[key]; ok {
			return name
		}
	}
	name := c.build(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil && len(*old) >= maxCachedNames {
		return name
	}
	next := make(map[string]string, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[key] = name
	c.m.Store(&next)
	return name
}

func lenOf(m *map[string]string) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
