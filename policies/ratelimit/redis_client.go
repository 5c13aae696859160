package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/protogate/gateway/config"
)

// redisClient is the client for the store's kind of Redis, and how logs name it.
type redisClient struct {
	redis.UniversalClient
	where   string
	cluster *redis.ClusterClient // the same client, in cluster mode; nil otherwise
}

// newRedisClient builds the client for cfg: one server (redis.Client), a primary that Sentinel
// names (redis.NewFailoverClient: it asks the sentinels for the primary's address, and follows
// their +switch-master announcements, closing connections to the old one), or a Cluster
// (redis.ClusterClient: it learns which node serves which slot, and sends each decision to the
// node that owns its key). Every kind runs the same script on the same one key per decision.
func newRedisClient(cfg config.RedisStore) (*redisClient, error) {
	quietRedisLog.Do(func() { redis.SetLogger(redisLog{}) })
	timeout := cmpOr(cfg.Timeout, config.DefaultRedisTimeout)
	password, err := lookupPassword("redis password", cfg.PasswordEnv)
	if err != nil {
		return nil, err
	}
	tlsConn, err := newRedisTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	// The settings of every kind of client, which each takes its own of (Simple, Failover,
	// Cluster): one round trip per decision, bounded by the timeout, and no retries: go-redis
	// would try a decision again after a timeout too, when Redis may have run it, and double the
	// wait. The store retries itself what is safe to (see redisStore.take).
	o := &redis.UniversalOptions{
		DB:       cfg.DB,
		Username: cfg.Username,
		Password: password,
		// A MOVED or ASK reply (a cluster's slot moved to another node) is followed at once, as
		// it must be while a slot migrates. It also makes the cluster client try a failed
		// attempt once more, a timed-out one too (go-redis has no setting against it that keeps
		// redirects), so a decision on a cluster can take up to twice the timeout, and a node
		// that stalled may run it twice when it resumes; more redirects would multiply both.
		MaxRedirects:    1,
		MaxRetries:      -1,
		MinRetryBackoff: -1, // retry (a redirect) at once: the decision is waiting
		MaxRetryBackoff: -1,
		DialerRetries:   1,
		DialTimeout:     timeout,
		ReadTimeout:     timeout,
		WriteTimeout:    timeout,
		PoolTimeout:     timeout,
		// The store's one retry has what is left of the timeout: its context's deadline.
		ContextTimeoutEnabled: true,
		ConnMaxIdleTime:       redisConnMaxIdle,
		Dialer:                dialRedis(tlsConn, timeout), // for every connection: sentinels and cluster nodes too
		Protocol:              2,
		// Leave CLIENT SETINFO out: one command fewer per connection, and servers older than 7.2
		// answer it with an error.
		DisableIdentity: true,
	}
	switch cfg.Mode() {
	case "sentinel":
		s := cfg.Sentinel
		if s.Master == "" || len(s.Addresses) == 0 {
			return nil, errors.New("ratelimit: redis sentinel needs a master name and addresses")
		}
		if o.SentinelPassword, err = lookupPassword("redis sentinel password", s.PasswordEnv); err != nil {
			return nil, err
		}
		o.MasterName, o.Addrs, o.SentinelUsername = s.Master, slices.Clone(s.Addresses), s.Username
		c := redis.NewFailoverClient(o.Failover())
		return &redisClient{UniversalClient: c, where: fmt.Sprintf("sentinel master %s via %s", s.Master, strings.Join(s.Addresses, ","))}, nil
	case "cluster":
		o.Addrs = slices.Clone(cfg.Cluster.Addresses)
		c := redis.NewClusterClient(o.Cluster())
		return &redisClient{UniversalClient: c, where: "cluster " + strings.Join(cfg.Cluster.Addresses, ","), cluster: c}, nil
	}
	if cfg.Address == "" {
		return nil, errors.New("ratelimit: the redis backend needs an address, a sentinel or a cluster")
	}
	o.Addrs = []string{cfg.Address}
	return &redisClient{UniversalClient: redis.NewClient(o.Simple()), where: cfg.Address}, nil
}

// lookupPassword reads a password from the environment variable env names; "" when env is "".
func lookupPassword(what, env string) (string, error) {
	if env == "" {
		return "", nil
	}
	pw, ok := os.LookupEnv(env)
	if !ok {
		return "", fmt.Errorf("ratelimit: %s: environment variable %s is not set", what, env)
	}
	return pw, nil
}

// quietRedisLog sets go-redis's logger once per process.
var quietRedisLog sync.Once

// redisLog takes go-redis's own log lines (a failed dial for each pooled connection: dozens during
// an outage, which the limiter logs once itself) down to the default logger's debug level.
type redisLog struct{}

func (redisLog) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
