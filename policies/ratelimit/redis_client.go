package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/protogate/gateway/config"
)

// redisClient is the client for the store's kind of Redis, and how logs name it.
type redisClient struct {
	redis.UniversalClient
	where string
	// reload, when set, re-reads the cluster's slot map in the background; a failed decision
	// calls it, so that a failover or resharding that left no MOVED reply behind (a node that
	// died answers nothing) is picked up at once rather than at the next periodic refresh.
	reload func()
}

// newRedisClient builds the client for cfg: one server (redis.Client), a primary that Sentinel
// names (redis.NewFailoverClient: it asks the sentinels for the primary's address, and follows
// their +switch-master announcements, closing connections to the old one), or a Cluster
// (redis.ClusterClient: it learns which node serves which slot, and sends each decision to the
// node that owns its key). Every kind runs the same script on the same one key per decision.
func newRedisClient(cfg config.RedisStore) (*redisClient, error) {
	timeout := cmpOr(cfg.Timeout, config.DefaultRedisTimeout)
	password, err := lookupPassword("redis password", cfg.PasswordEnv)
	if err != nil {
		return nil, err
	}
	tlsConn, err := newRedisTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	// Every kind of client dials through it, sentinels and cluster nodes included; nil: go-redis's.
	var dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	if tlsConn != nil {
		dialer = tlsConn.dialer(timeout)
	}
	switch cfg.Mode() {
	case "sentinel":
		s := cfg.Sentinel
		if s.Master == "" || len(s.Addresses) == 0 {
			return nil, errors.New("ratelimit: redis sentinel needs a master name and addresses")
		}
		sentinelPassword, err := lookupPassword("redis sentinel password", s.PasswordEnv)
		if err != nil {
			return nil, err
		}
		c := redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:       s.Master,
			SentinelAddrs:    slices.Clone(s.Addresses),
			SentinelUsername: s.Username,
			SentinelPassword: sentinelPassword,
			DB:               cfg.DB,
			Username:         cfg.Username,
			Password:         password,
			Dialer:           dialer,
			MaxRetries:       -1,
			DialerRetries:    1,
			DialTimeout:      timeout,
			ReadTimeout:      timeout,
			WriteTimeout:     timeout,
			PoolTimeout:      timeout,
			Protocol:         2,
			DisableIdentity:  true,
		})
		return &redisClient{UniversalClient: c, where: fmt.Sprintf("sentinel master %s via %s", s.Master, strings.Join(s.Addresses, ","))}, nil
	case "cluster":
		c := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:    slices.Clone(cfg.Cluster.Addresses),
			Username: cfg.Username,
			Password: password,
			Dialer:   dialer,
			// One redirect: a MOVED or ASK reply (the slot moved to another node) is followed
			// at once, as it must be while a slot migrates. It also lets a failed attempt be
			// tried once more, so a decision can take up to twice the timeout here; more
			// redirects would multiply it.
			MaxRedirects:    1,
			MaxRetries:      -1,
			MinRetryBackoff: -1, // retry at once: the decision is waiting
			MaxRetryBackoff: -1,
			DialerRetries:   1,
			DialTimeout:     timeout,
			ReadTimeout:     timeout,
			WriteTimeout:    timeout,
			PoolTimeout:     timeout,
			Protocol:        2,
			DisableIdentity: true,
		})
		return &redisClient{
			UniversalClient: c,
			where:           "cluster " + strings.Join(cfg.Cluster.Addresses, ","),
			reload:          func() { c.ReloadState(context.Background()) },
		}, nil
	}
	if cfg.Address == "" {
		return nil, errors.New("ratelimit: the redis backend needs an address, a sentinel or a cluster")
	}
	c := redis.NewClient(&redis.Options{
		Addr:     cfg.Address,
		DB:       cfg.DB,
		Username: cfg.Username,
		Password: password,
		Dialer:   dialer,
		// One round trip per decision, bounded by the timeout: no retries, which would double it.
		MaxRetries:    -1,
		DialerRetries: 1,
		DialTimeout:   timeout,
		ReadTimeout:   timeout,
		WriteTimeout:  timeout,
		PoolTimeout:   timeout,
		Protocol:      2,
		// Leave CLIENT SETINFO out: one command fewer per connection, and servers older than 7.2
		// answer it with an error.
		DisableIdentity: true,
	})
	return &redisClient{UniversalClient: c, where: cfg.Address}, nil
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
