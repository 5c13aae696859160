package ratelimit

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"net/netip"
	"strings"
	"sync"
)

// key identifies a bucket within a rule: a client address, or a string (a consumer, a method, a
// header's value). The two never collide: a consumer named "10.0.0.1" is not that address.
type key struct {
	ip netip.Addr
	s  string
}

// String renders k for Redis keys and messages.
func (k key) String() string {
	if k.ip.IsValid() {
		return "ip:" + k.ip.String()
	}
	return "s:" + k.s
}

// maxShards is the most independently locked parts a table has: enough that calls with different
// keys rarely meet on one lock.
const maxShards = 64

// minShardKeys is the least room a shard gets when a table is split. Each shard holds an equal
// share of the capacity and evicts on its own when that share is full, so keys that hash unevenly
// fill one shard before the table's total reaches the capacity; a share of at least this many
// keeps that early eviction small. Smaller tables have fewer shards, down to one.
const minShardKeys = 64

// table maps keys to *V in shards, each under its own read-write lock. Lookups of a key already
// present take a read lock and allocate nothing; the value itself is updated atomically by its
// owner. Memory is bounded: a shard that reaches its share of the capacity drops its idle entries,
// then, if that freed too little, arbitrary ones (whose keys start afresh). The shares add up to at
// most the capacity, so a table that may drop busy entries never holds more.
type table[V any] struct {
	seed     maphash.Seed
	perShard int
	idle     func(v *V, now int64) bool // whether v can be dropped without changing a decision
	init     func(v *V)                 // prepares a new value
	// evictBusy lets a full shard drop entries that are not idle: right for buckets (a key that
	// starts afresh gets at most one extra burst), wrong for counters of calls in flight.
	evictBusy bool
	shards    []shard[V] // a power of two of them, at most maxShards
	mask      uint64     // len(shards) - 1: a hash's shard is hash & mask
}

type shard[V any] struct {
	mu      sync.RWMutex
	m       map[key]*V
	inserts int // since the last sweep
	_       [40]byte
}

// newTable returns a table whose shards' shares add up to at most capacity: as many shards, up to
// maxShards, as give each a share of at least minShardKeys, or one.
func newTable[V any](capacity int, evictBusy bool, idle func(*V, int64) bool, init func(*V)) *table[V] {
	n := 1
	for n < maxShards && 2*n*minShardKeys <= capacity {
		n *= 2
	}
	t := &table[V]{seed: maphash.MakeSeed(), perShard: max(1, capacity/n), idle: idle, init: init, evictBusy: evictBusy,
		shards: make([]shard[V], n), mask: uint64(n - 1)}
	for i := range t.shards {
		t.shards[i].m = make(map[key]*V)
	}
	return t
}

// hash spreads k over the shards.
func (t *table[V]) hash(k key) uint64 {
	if k.ip.IsValid() {
		a := k.ip.As16()
		h := binary.LittleEndian.Uint64(a[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(a[8:]), 29)
		h ^= h >> 33
		h *= 0xff51afd7ed558ccd
		h ^= h >> 33
		return h
	}
	return maphash.String(t.seed, k.s)
}

// shard returns the shard of k.
func (t *table[V]) shard(k key) *shard[V] { return &t.shards[t.hash(k)&t.mask] }

// get returns the value of k, adding it when missing. now is the caller's clock reading, for the
// idle test of a sweep.
func (t *table[V]) get(k key, now int64) *V {
	sh := t.shard(k)
	sh.mu.RLock()
	v := sh.m[k]
	sh.mu.RUnlock()
	if v != nil {
		return v
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if v := sh.m[k]; v != nil {
		return v
	}
	if len(sh.m) >= t.perShard || sh.inserts >= t.perShard {
		t.sweep(sh, now)
	}
	v = new(V)
	if t.init != nil {
		t.init(v)
	}
	k.s = strings.Clone(k.s) // the call's string may live in a request buffer
	sh.m[k] = v
	sh.inserts++
	return v
}

// sweep drops the idle entries of sh; when the shard is still full, and busy entries may go, it drops
// arbitrary others until a quarter of its share is free, so that sweeps stay rare under a flood of
// new keys. It is called with sh locked.
func (t *table[V]) sweep(sh *shard[V], now int64) {
	sh.inserts = 0
	for k, v := range sh.m {
		if t.idle(v, now) {
			delete(sh.m, k)
		}
	}
	if !t.evictBusy || len(sh.m) < t.perShard {
		return
	}
	target := t.perShard - max(1, t.perShard/4)
	for k := range sh.m {
		if len(sh.m) <= target {
			break
		}
		delete(sh.m, k)
	}
}

// len returns the number of entries.
func (t *table[V]) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
