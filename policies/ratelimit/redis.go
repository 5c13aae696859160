package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// gcraScript takes ARGV[3] tokens from the bucket at KEYS[1], atomically: the bucket's state is its
// full-again time (tat, microseconds), as in process (see bucket). ARGV: 1 interval and 2 tolerance
// (burst × interval), microseconds, possibly fractional; 3 cost; 4 now in Unix microseconds, or 0
// for the server's clock. It returns {allowed (1/0), retry-after µs, full-again-in µs}. The key
// expires when the bucket is full again: a full bucket and a missing key mean the same. A tat
// beyond the tolerance, debt left by a rule with a larger bucket before a reload, is cut back to
// it and stored, as bucket.take does: the bucket is empty under the new rule and refills from now.
//
// Time: by default the script reads the Redis server's clock (TIME), so every replica decides on one
// clock and skew between gateway hosts cannot refill a bucket early; a write after TIME is fine
// because scripts replicate their effects (always since Redis 7; replicate_commands before).
const gcraScript = `
if redis.replicate_commands then redis.replicate_commands() end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat > now + tolerance then
  tat = now + tolerance
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil(tolerance / 1000) + 1)
end
local new = tat + cost * interval
local over = new - now - tolerance
if over > 0 then
  return {0, math.ceil(over), math.ceil(tat - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000) + 1)
return {1, 0, math.ceil(new - now)}
`

// redisStore decides rate limits on a Redis shared by the gateway's replicas: one server, a
// Sentinel-managed primary or a Cluster (see newRedisClient).
//
// Cluster: each decision reads and writes exactly one key, KEYS[1], the bucket's (prefix, rule,
// key kind, key), so it lives in one hash slot and the script runs on the one node that owns it.
// Keep it one key: a second key (a counter, a log) would need a hash tag to share the slot, or
// the cluster refuses the script with CROSSSLOT. The gateway adds no hash tag ({...}) of its own,
// and the config refuses one in key_prefix, so buckets spread over the shards by their name (a
// header key's value may hold braces: that moves its bucket's slot, and it is still one key).
type redisStore struct {
	client     *redisClient
	script     *redis.Script
	prefix     string
	timeout    time.Duration
	failClosed bool
	log        *slog.Logger
	// failing says the store is out: the last decision failed, and the failure has been logged.
	// In a cluster it is the outage of the cluster as a whole (no node to ask for the slot map);
	// a node that fails decisions is an outage of its own (nodes).
	failing atomic.Bool
	nodes   *nodeOutages // cluster mode; nil otherwise
	// replaced is the store this one replaced while that one was failing (WithPrevious), until
	// this one's first decision: if it succeeds, it logs the end of that outage.
	replaced atomic.Pointer[redisStore]
}

func newRedisStore(cfg config.RedisStore, log *slog.Logger) (*redisStore, error) {
	client, err := newRedisClient(cfg)
	if err != nil {
		return nil, err
	}
	r := &redisStore{
		client:     client,
		script:     redis.NewScript(gcraScript),
		prefix:     cmpOr(cfg.KeyPrefix, config.DefaultRedisKeyPrefix),
		timeout:    cmpOr(cfg.Timeout, config.DefaultRedisTimeout),
		failClosed: cfg.FailureMode == "closed",
		log:        log,
	}
	if client.cluster != nil {
		r.nodes = watchNodes(client.cluster, log, client.where, r.onFailure("rate-limited calls whose buckets are on the node"))
	}
	return r, nil
}

// take runs the script for redisKey: EVALSHA, and EVAL when the server does not have the script
// cached yet (after a restart or SCRIPT FLUSH), which caches it again.
//
// A decision that failed on a stale connection (one that had answered before and was closed
// before any byte of the reply came, see staleConnError) is made once more, on another
// connection, within what is left of the timeout: a pooled connection that Redis or a proxy
// closed just as the command was sent most likely never delivered it. The pool checks the
// connections it hands out, so that one is alive or new. The risk left is a command that did
// reach Redis and ran before the connection broke, between the script and its reply (Redis
// killed or failed over right after running it, a proxy or a CLIENT KILL closing the connection
// then): it is charged twice. A decision that timed out is never made again, since Redis may
// have run it.
func (r *redisStore) take(redisKey string, l *limits, cost, nowMicros int64) (decision, error) {
	start := time.Now()
	res, err := r.run(context.Background(), redisKey, l, cost, nowMicros)
	if err != nil && isStale(err) {
		if left := r.timeout - time.Since(start); left > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), left)
			res, err = r.run(ctx, redisKey, l, cost, nowMicros)
			cancel()
		}
	}
	if err != nil {
		return decision{}, err
	}
	r.answered()
	full := time.Duration(res[2]) * time.Microsecond
	allowed := res[0] == 1
	return decision{
		allowed:   allowed,
		retry:     time.Duration(res[1]) * time.Microsecond,
		full:      full,
		remaining: redisRemaining(l, full, cost, allowed),
	}, nil
}

// run runs the script once: {allowed, retry-after µs, full-again-in µs}.
func (r *redisStore) run(ctx context.Context, redisKey string, l *limits, cost, nowMicros int64) ([]int64, error) {
	const us = float64(time.Microsecond)
	res, err := r.script.Run(ctx, r.client, []string{redisKey},
		strconv.FormatFloat(float64(l.interval)/us, 'f', -1, 64),
		strconv.FormatFloat(float64(l.tolerance)/us, 'f', -1, 64),
		cost, nowMicros).Int64Slice()
	if err != nil {
		return nil, err
	}
	if len(res) != 3 {
		return nil, fmt.Errorf("rate-limit script returned %d values, want 3", len(res))
	}
	return res, nil
}

// answered ends the outages a decision that succeeded shows are over: the store's, the one of
// the store it replaced, and in a cluster those of nodes whose slots other nodes serve now (a
// node that answers again ends its own: see nodeHook).
func (r *redisStore) answered() {
	if r.failing.Load() && r.failing.CompareAndSwap(true, false) {
		r.log.Info("rate limit store is answering again", "redis", r.client.where)
	}
	if p := r.replaced.Load(); p != nil && r.replaced.CompareAndSwap(p, nil) && p.endOutages() {
		r.log.Info("rate limit store is answering again", "redis", r.client.where, "replaced", p.client.where)
	}
	if r.nodes != nil && r.nodes.failing.Load() > 0 {
		r.nodes.sweep()
	}
}

// isFailing reports whether the store, or one of its nodes, is out.
func (r *redisStore) isFailing() bool {
	return r.failing.Load() || (r.nodes != nil && r.nodes.failing.Load() > 0)
}

// endOutages ends the store's outages without logging, when another store that replaced it has
// answered (see answered), and reports whether there were any.
func (r *redisStore) endOutages() bool {
	ended := r.failing.Swap(false)
	if r.nodes != nil && r.nodes.endAll() {
		ended = true
	}
	return ended
}

// redisRemaining derives the whole tokens left from the script's full-again time, as bucket.take
// does from its own. The script keeps time in whole microseconds and rounds the full-again time up
// to one, so that time may run up to about 2µs long: without that slack, a bucket a whole number of
// tokens short of full (every fresh one, when the interval is not a whole number of microseconds:
// 3 per second) would report a token fewer than the local backend. The slack can only err by a
// token about to be earned within those 2µs; the bounds keep it within what the decision allows.
func redisRemaining(l *limits, full time.Duration, cost int64, allowed bool) int64 {
	const slack = int64(2 * time.Microsecond)
	left := (l.tolerance - int64(full) + slack) / l.interval
	if allowed {
		return min(left, l.burst-cost)
	}
	return min(left, cost-1) // a refused cost is more than is left
}

// failed handles a decision on redisKey that Redis could not take: it logs the first failure of
// a run of them (in a cluster, of the node that failed it), and admits the call (failure mode
// open) or refuses it with UNAVAILABLE (closed).
func (r *redisStore) failed(redisKey string, err error) error {
	if r.replaced.Load() != nil {
		r.replaced.Store(nil) // this store's own failure is what the log says next
	}
	var ne *nodeError
	switch {
	case errors.As(err, &ne):
		r.nodes.fail(ne.node, redisKey, err)
	case r.failing.CompareAndSwap(false, true):
		r.log.Warn("rate limit store unavailable; "+r.onFailure("rate-limited calls"), "redis", r.client.where, "error", err)
	}
	if r.client.cluster != nil {
		// A failover or resharding that left no MOVED reply behind (a node that died answers
		// nothing) is picked up at once, not at the next periodic refresh.
		r.client.cluster.ReloadState(context.Background())
	}
	if r.failClosed {
		return errStoreUnavailable
	}
	return nil
}

// onFailure says what happens to calls while the store fails.
func (r *redisStore) onFailure(calls string) string {
	if r.failClosed {
		return "refusing " + calls + " (failure_mode closed)"
	}
	return "admitting " + calls + " unlimited (failure_mode open)"
}

func (r *redisStore) close() error { return r.client.Close() }

// errStoreUnavailable refuses a call while the store is out, in failure_mode closed: its ErrorInfo
// names the rate limit as the refusing policy (for the access log and the denials metric).
var errStoreUnavailable = policy.Deny(codes.Unavailable, "rate limit store unavailable",
	&errdetails.ErrorInfo{Reason: "RATE_LIMIT_STORE_UNAVAILABLE", Domain: "protogate"})
