package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// nodeOutages keeps the outages of a Redis Cluster's nodes one by one. A master that stops
// answering fails the decisions on its slots while the others go on deciding theirs, so the
// store as a whole neither fails nor recovers: each node's outage is logged once when it starts,
// naming the node, and once when it ends, when the node answers a decision again or when its
// slots are served by another node (a replica promoted in its place).
//
// The node a decision failed on is the node the cluster client sent it to last: a hook on each
// node's client (nodeHook) marks the errors of its decisions with the node (nodeError).
type nodeOutages struct {
	cluster   *redis.ClusterClient
	log       *slog.Logger
	where     string
	onFailure string // what happens to calls on a failing node

	mu      sync.Mutex
	byAddr  map[string]*nodeOutage // every node the client has met
	failing atomic.Int32           // how many nodes are out: while none is, decisions look no further
}

// nodeOutage is one node's state.
type nodeOutage struct {
	addr    string
	failing atomic.Bool // set and cleared under nodeOutages.mu; read without it
	key     string      // while failing: a bucket on the node, to learn whether its slots moved
}

// watchNodes keeps the outages of c's nodes, logging them to log. It hooks every node's client:
// call it before c runs any command.
func watchNodes(c *redis.ClusterClient, log *slog.Logger, where, onFailure string) *nodeOutages {
	o := &nodeOutages{cluster: c, log: log, where: where, onFailure: onFailure, byAddr: map[string]*nodeOutage{}}
	c.OnNewNode(func(nc *redis.Client) { nc.AddHook(nodeHook{outages: o, node: o.node(nc.Options().Addr)}) })
	return o
}

// node returns addr's state; the same for a node's clients one after another (the cluster client
// drops a node that left the slot map, and makes a new client should it come back).
func (o *nodeOutages) node(addr string) *nodeOutage {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.byAddr[addr]
	if n == nil {
		n = &nodeOutage{addr: addr}
		o.byAddr[addr] = n
	}
	return n
}

// fail records that a decision on redisKey failed on n with err, and logs it if it starts n's
// outage.
func (o *nodeOutages) fail(n *nodeOutage, redisKey string, err error) {
	if n.failing.Load() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if n.failing.Load() {
		return
	}
	n.failing.Store(true)
	n.key = redisKey
	o.failing.Add(1)
	o.log.Warn("rate limit store unavailable; "+o.onFailure, "redis", o.where, "node", n.addr, "error", err)
}

// answered ends n's outage, if it is out: it answered a decision.
func (o *nodeOutages) answered(n *nodeOutage) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.end(n) {
		o.log.Info("rate limit store is answering again", "redis", o.where, "node", n.addr)
	}
}

// sweep ends the outages of nodes whose slots another node serves now, as the client's slot map
// says, which a decision that succeeded has just used. It gives way to another sweep, or
// anything else holding the lock: while a node is out, every decision calls it.
func (o *nodeOutages) sweep() {
	if !o.mu.TryLock() {
		return
	}
	defer o.mu.Unlock()
	for _, n := range o.byAddr {
		if !n.failing.Load() {
			continue
		}
		// The slot map is loaded (a decision just used it): no round trip.
		owner, err := o.cluster.MasterForKey(context.Background(), n.key)
		if err != nil || owner.Options().Addr == n.addr {
			continue
		}
		o.end(n)
		o.log.Info("rate limit store is answering again", "redis", o.where, "node", n.addr, "served_by", owner.Options().Addr)
	}
}

// endAll ends every node's outage without logging (see redisStore.endOutages), and reports
// whether there were any.
func (o *nodeOutages) endAll() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	ended := false
	for _, n := range o.byAddr {
		ended = o.end(n) || ended
	}
	return ended
}

// end ends n's outage; o.mu is held. It reports whether n was out.
func (o *nodeOutages) end(n *nodeOutage) bool {
	if !n.failing.Load() {
		return false
	}
	n.failing.Store(false)
	n.key = ""
	o.failing.Add(-1)
	return true
}

// nodeHook is on every cluster node's client: it marks the errors of the decisions the node
// fails with the node (nodeError), and a decision the node answers ends its outage.
type nodeHook struct {
	outages *nodeOutages
	node    *nodeOutage
}

func (h nodeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if name := cmd.Name(); name != "evalsha" && name != "eval" {
			return err // the client's own commands (CLUSTER SLOTS): not a decision
		}
		switch {
		case err == nil:
			if h.node.failing.Load() {
				h.outages.answered(h.node)
			}
		case err == redis.ErrClosed || redis.HasErrorPrefix(err, "MOVED") || redis.HasErrorPrefix(err, "ASK") || redis.HasErrorPrefix(err, "NOSCRIPT"):
			// A node client closed (the cluster client tells by ==), a redirect or an uncached
			// script: the client or the script goes on, elsewhere or with EVAL.
		default:
			return &nodeError{node: h.node, err: err}
		}
		return err
	}
}

func (h nodeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h nodeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// nodeError is the error of a decision a cluster node failed, and the node. Its text is the
// cause's, unchanged, and the cluster client reads it through errors.Is and errors.As, so its
// retries and redirects are as without it.
type nodeError struct {
	node *nodeOutage
	err  error
}

func (e *nodeError) Error() string { return e.err.Error() }
func (e *nodeError) Unwrap() error { return e.err }
