package ratelimittest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// StartTLS starts a redis-server that speaks TLS only, with pki's server certificate. With
// clientCerts it requires client certificates signed by pki's CA (Redis' default); without, it
// asks for none. It skips t when redis-server was built without TLS.
func StartTLS(t testing.TB, pki *PKI, clientCerts bool) *Server {
	t.Helper()
	port := freePort(t)
	auth := "no"
	if clientCerts {
		auth = "yes"
	}
	return launch(t, process{port: port, waitReady: true, tls: true, args: []string{
		"--port", "0", "--tls-port", strconv.Itoa(port),
		"--tls-cert-file", pki.ServerCertFile, "--tls-key-file", pki.ServerKeyFile,
		"--tls-ca-cert-file", pki.CAFile, "--tls-auth-clients", auth,
	}})
}

// StartCluster starts a one-node Redis Cluster: a redis-server with cluster mode on that owns all
// 16384 slots. It returns once the cluster accepts writes (cluster_state:ok): Redis holds a new
// node in the failed state for its first two seconds, so this takes about that long; start it
// early, or in a parallel test.
func StartCluster(t testing.TB) *Server {
	t.Helper()
	port := freePort(t)
	s := launch(t, process{port: port, waitReady: true, args: []string{
		"--port", strconv.Itoa(port),
		"--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(t.TempDir(), "nodes.conf"),
		// CLUSTER SLOTS names the node by this address (a lone node knows no address of its own).
		"--cluster-announce-ip", "127.0.0.1",
	}})
	c := s.Client(t)
	if err := c.ClusterAddSlotsRange(context.Background(), 0, 16383).Err(); err != nil {
		t.Fatalf("CLUSTER ADDSLOTSRANGE 0 16383: %v", err)
	}
	Poll(t, "cluster_state:ok", func(ctx context.Context) (bool, error) {
		info, err := c.ClusterInfo(ctx).Result()
		return strings.Contains(info, "cluster_state:ok"), err
	})
	return s
}

// Cluster is a Redis Cluster of three masters, each owning a third of the slots in order, and
// optionally a replica of the first.
type Cluster struct {
	Masters []*Server
	Replica *Server // of Masters[0]; nil unless asked for
}

// StartCluster3 starts a Redis Cluster of three masters, and with replica a replica of the
// first, and returns once every node serves all 16384 slots. A master that stops answering stays
// a master of the cluster for the test's length (cluster-node-timeout is a minute), and the
// others go on serving their slots meanwhile (cluster-require-full-coverage no). Like
// StartCluster it takes a few seconds.
func StartCluster3(t testing.TB, replica bool) *Cluster {
	t.Helper()
	node := func() *Server {
		port := freePort(t)
		return launch(t, process{port: port, waitReady: true, args: []string{
			"--port", strconv.Itoa(port),
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(t.TempDir(), "nodes.conf"),
			"--cluster-announce-ip", "127.0.0.1",
			"--cluster-node-timeout", "60000",
			"--cluster-require-full-coverage", "no",
		}})
	}
	c := &Cluster{Masters: []*Server{node(), node(), node()}}
	all := slices.Clone(c.Masters)
	if replica {
		c.Replica = node()
		all = append(all, c.Replica)
	}
	ctx := context.Background()
	first := c.Masters[0].Client(t)
	for i, m := range c.Masters {
		lo, hi := c.slots(i)
		if err := m.Client(t).ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			t.Fatalf("CLUSTER ADDSLOTSRANGE %d %d on %s: %v", lo, hi, m.Addr, err)
		}
	}
	for _, n := range all[1:] {
		host, port, _ := strings.Cut(n.Addr, ":")
		if err := first.ClusterMeet(ctx, host, port).Err(); err != nil {
			t.Fatalf("CLUSTER MEET %s: %v", n.Addr, err)
		}
	}
	if replica {
		id, err := first.ClusterMyID(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		r := c.Replica.Client(t)
		// The replica must know the master before it can replicate it.
		Poll(t, "the replica knows its master", func(ctx context.Context) (bool, error) {
			err := r.ClusterReplicate(ctx, id).Err()
			return err == nil, err
		})
		Poll(t, "the replica in sync", func(ctx context.Context) (bool, error) {
			info, err := r.Info(ctx, "replication").Result()
			return strings.Contains(info, "master_link_status:up"), err
		})
	}
	for _, n := range all {
		cl := n.Client(t)
		Poll(t, "every node sees three masters serving all slots", func(ctx context.Context) (bool, error) {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_size:3\r") {
				return false, err
			}
			//lint:ignore SA1019 CLUSTER SHARDS needs Redis 7; CLUSTER SLOTS works on the Redis 6 some distributions install.
			slots, err := cl.ClusterSlots(ctx).Result()
			return len(slots) == 3, err
		})
	}
	return c
}

// slots returns the range of slots master i owns.
func (c *Cluster) slots(i int) (lo, hi int) {
	return i * 16384 / 3, (i+1)*16384/3 - 1
}

// Owner returns the master that owns key's slot, as the cluster was started.
func (c *Cluster) Owner(t testing.TB, key string) *Server {
	t.Helper()
	slot, err := c.Masters[0].Client(t).ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range c.Masters {
		if lo, hi := c.slots(i); slot >= int64(lo) && slot <= int64(hi) {
			return m
		}
	}
	t.Fatalf("slot %d of %q has no owner", slot, key)
	return nil
}

// StartReplica starts a redis-server replicating primary, and waits until it is in sync.
func StartReplica(t testing.TB, primary *Server) *Server {
	t.Helper()
	host, port, _ := strings.Cut(primary.Addr, ":")
	p := freePort(t)
	s := launch(t, process{port: p, waitReady: true, args: []string{"--port", strconv.Itoa(p), "--replicaof", host, port}})
	c := s.Client(t)
	Poll(t, "replica in sync", func(ctx context.Context) (bool, error) {
		info, err := c.Info(ctx, "replication").Result()
		return strings.Contains(info, "master_link_status:up"), err
	})
	return s
}

// StartSentinel starts a Sentinel monitoring primary under the name master, with a quorum of
// one, and waits until it answers and knows of want replicas of it (a failover needs one).
func StartSentinel(t testing.TB, master string, primary *Server, replicas int) *Server {
	t.Helper()
	return startSentinel(t, master, primary, replicas, "", "")
}

// StartSentinelACL starts a Sentinel as StartSentinel does, that only the ACL user user with
// password password may use (its default user is off).
func StartSentinelACL(t testing.TB, master string, primary *Server, user, password string) *Server {
	t.Helper()
	return startSentinel(t, master, primary, 0, user, password)
}

func startSentinel(t testing.TB, master string, primary *Server, replicas int, user, password string) *Server {
	t.Helper()
	host, port, _ := strings.Cut(primary.Addr, ":")
	p := freePort(t)
	// Sentinel rewrites its configuration file as it learns: it must be a file of its own.
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	text := fmt.Sprintf("port %d\nsentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %[2]s 5000\nsentinel failover-timeout %[2]s 10000\n",
		p, master, host, port)
	if user != "" {
		text += fmt.Sprintf("user default off\nuser %s on >%s +@all\n", user, password)
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s := launch(t, process{port: p, conf: conf, args: []string{"--sentinel"}})
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, Username: user, Password: password, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	Poll(t, "sentinel knows the primary and its replicas", func(ctx context.Context) (bool, error) {
		if s.Exited() {
			t.Fatalf("redis-server --sentinel exited:\n%s", s.Log())
		}
		reps, err := c.Replicas(ctx, master).Result()
		return err == nil && len(reps) >= replicas, err
	})
	return s
}

// Failover makes the Sentinel at sentinel fail master over to a replica, and waits until it names
// the new primary, whose address it returns.
func Failover(t testing.TB, sentinel *Server, master string) string {
	t.Helper()
	c := redis.NewSentinelClient(&redis.Options{Addr: sentinel.Addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	defer c.Close()
	old, err := c.GetMasterAddrByName(context.Background(), master).Result()
	if err != nil {
		t.Fatalf("SENTINEL GET-MASTER-ADDR-BY-NAME %s: %v", master, err)
	}
	// A sentinel that has not yet checked the replica refuses with NOGOODSLAVE: ask again.
	Poll(t, "SENTINEL FAILOVER accepted", func(ctx context.Context) (bool, error) {
		err := c.Failover(ctx, master).Err()
		return err == nil, err
	})
	var addr string
	Poll(t, "failover done", func(ctx context.Context) (bool, error) {
		a, err := c.GetMasterAddrByName(ctx, master).Result()
		if err != nil || len(a) != 2 || a[0]+":"+a[1] == old[0]+":"+old[1] {
			return false, err
		}
		addr = a[0] + ":" + a[1]
		return true, nil
	})
	return addr
}
