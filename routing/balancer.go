package routing

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
)

// Balancer is how a cluster spreads calls over its endpoints.
type Balancer uint8

// The balancers. Each honours endpoint weights.
const (
	// RoundRobin cycles through the endpoints in a smooth weighted order.
	RoundRobin Balancer = iota
	// LeastRequest picks two endpoints at random (power of two choices) and takes the one with
	// fewer calls in flight, the lower latency estimate breaking ties: an EWMA that fades while the
	// endpoint gets no calls ([LatencyHalfLife]).
	LeastRequest
	// RingHash hashes a header (the cluster's hash key) onto a ring of endpoints, so calls with
	// the same value go to the same endpoint while it is available (session affinity). Calls
	// without the header are spread at random.
	RingHash
	// Random picks an endpoint at random.
	Random
)

// String returns the balancer's configuration name.
func (b Balancer) String() string {
	switch b {
	case RoundRobin:
		return "round_robin"
	case LeastRequest:
		return "least_request"
	case RingHash:
		return "ring_hash"
	case Random:
		return "random"
	}
	return fmt.Sprintf("Balancer(%d)", uint8(b))
}

// ParseBalancer returns the balancer named s, as String names it.
func ParseBalancer(s string) (Balancer, error) {
	for b := RoundRobin; b <= Random; b++ {
		if b.String() == s {
			return b, nil
		}
	}
	return 0, fmt.Errorf("unknown balancer %q (want round_robin, least_request, ring_hash or random)", s)
}

// maxSchedule bounds the length of a weighted schedule; larger weight sums are scaled down.
const maxSchedule = 4096

// weightedSchedule returns endpoint indices in smooth weighted round-robin order: each index appears
// in proportion to its weight, spread out rather than bunched.
func weightedSchedule(weights []uint32) []uint32 {
	w := make([]int64, len(weights))
	var total int64
	for i, x := range weights {
		w[i] = int64(max(x, 1))
		total += w[i]
	}
	if total > maxSchedule {
		total = 0
		for i := range w {
			w[i] = max(1, w[i]*maxSchedule/int64(sumWeights(weights)))
			total += w[i]
		}
	}
	g := w[0]
	for _, x := range w[1:] {
		g = gcd(g, x)
	}
	total = 0
	for i := range w {
		w[i] /= g
		total += w[i]
	}
	out := make([]uint32, 0, total)
	current := make([]int64, len(w))
	for int64(len(out)) < total {
		best := 0
		for i := range w {
			current[i] += w[i]
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		out = append(out, uint32(best))
	}
	return out
}

func sumWeights(weights []uint32) uint64 {
	var s uint64
	for _, x := range weights {
		s += uint64(max(x, 1))
	}
	return s
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// ringEntry is one point of a hash ring.
type ringEntry struct {
	hash uint64
	idx  uint32 // endpoint index
}

// ringSize is the target number of points on a hash ring.
const ringSize = 2048

// buildRing places each endpoint on the ring at points in proportion to its weight.
func buildRing(addrs []string, weights []uint32) []ringEntry {
	total := sumWeights(weights)
	var ring []ringEntry
	for i, a := range addrs {
		n := max(1, ringSize*uint64(max(weights[i], 1))/total)
		for k := range n {
			h := fnvString(fnvOffset, a)
			h = fnvByte(h, '#')
			for x := k; ; x /= 10 {
				h = fnvByte(h, byte('0'+x%10))
				if x < 10 {
					break
				}
			}
			ring = append(ring, ringEntry{hash: mix(h), idx: uint32(i)})
		}
	}
	slices.SortFunc(ring, func(a, b ringEntry) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return int(a.idx) - int(b.idx)
	})
	return ring
}

// ringLookup returns the position of the first ring point at or after h, wrapping around.
func ringLookup(ring []ringEntry, h uint64) int {
	i := sort.Search(len(ring), func(i int) bool { return ring[i].hash >= h })
	if i == len(ring) {
		return 0
	}
	return i
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = fnvByte(h, s[i])
	}
	return h
}

// mix is splitmix64's finalizer: FNV's low bits are weak, and ring points must spread evenly.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// hashKey hashes a header value onto the ring.
func hashKey(v string) uint64 { return mix(fnvString(fnvOffset, v)) }

// randIndex returns a random index below n.
func randIndex(n int) int { return int(rand.Uint64N(uint64(n))) }
