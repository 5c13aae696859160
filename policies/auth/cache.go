package auth

import (
	"hash/maphash"
	"sync"
)

// cacheShards spreads the verified-token cache over independent locks.
const cacheShards = 32

// tokenCache remembers verified tokens until they expire, bounded in size. It is keyed by a seeded
// hash of the token and holds the token itself, compared in full on a hit, so a colliding hash
// can only miss. When a shard is full, expired entries go first, then arbitrary ones.
type tokenCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]*verified
	_  [40]byte // keep shards on separate cache lines
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{seed: maphash.MakeSeed(), perShard: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*verified)
	}
	return c
}

// get returns the entry for token, nil when there is none; the caller checks it is still valid.
func (c *tokenCache) get(token string) *verified {
	h := maphash.String(c.seed, token)
	s := &c.shards[h%cacheShards]
	s.mu.RLock()
	v := s.m[h]
	s.mu.RUnlock()
	if v == nil || v.token != token {
		return nil
	}
	return v
}

// put adds v, whose expiry is in unix nanoseconds; now is the current time in the same unit.
func (c *tokenCache) put(v *verified, now int64) {
	h := maphash.String(c.seed, v.token)
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[h]; !ok && len(s.m) >= c.perShard {
		for k, e := range s.m {
			if e.expires <= now {
				delete(s.m, k)
			}
		}
		for k := range s.m {
			if len(s.m) < c.perShard {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[h] = v
}

// drop removes token's entry.
func (c *tokenCache) drop(token string) {
	h := maphash.String(c.seed, token)
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	if v := s.m[h]; v != nil && v.token == token {
		delete(s.m, h)
	}
	s.mu.Unlock()
}

// len counts the entries, for tests.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
