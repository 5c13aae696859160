package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	"github.com/protogate/gateway/registry"
)

// gateway is a gateway serving on loopback in front of the example shop, for one test.
type gateway struct {
	shop   *shop.Shop
	srv    *server.Server
	addr   string // data port
	admin  string // admin port
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

type harnessOptions struct {
	empty bool // serve nothing at first: no demo registrations
	shop  shop.Options
	// policies, when set, are the gateway's: the config's (the engine is built from them) and the
	// spec's (each snapshot's chains), before config and spec run.
	policies *config.Policies
	config   func(*config.Config)
	spec     func(*registry.Spec, *shop.Shop)
	server   []server.Option // more options for server.New
}

// startGateway starts the shop and a gateway fronting it, and stops both when the test ends.
func startGateway(t testing.TB, o harnessOptions) *gateway {
	t.Helper()
	backends, err := shop.Start(o.shop)
	if err != nil {
		t.Fatalf("shop: %v", err)
	}
	t.Cleanup(backends.Close)

	cfg := config.Default()
	cfg.ShutdownGrace = 5 * time.Second
	if o.policies != nil {
		cfg.Policies = *o.policies
	}
	if o.config != nil {
		o.config(cfg)
	}
	var spec registry.Spec
	if !o.empty {
		if spec, err = demo.Spec(backends); err != nil {
			t.Fatal(err)
		}
	}
	if o.policies != nil {
		spec.Policies = *o.policies
	}
	if o.spec != nil {
		o.spec(&spec, backends)
	}
	srv, err := server.New(cfg, append([]server.Option{server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, o.server...)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Apply(spec); err != nil {
		t.Fatalf("apply: %v", err)
	}
	dataLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &gateway{shop: backends, srv: srv, addr: dataLn.Addr().String(), admin: adminLn.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() { g.done <- srv.ServeListeners(ctx, dataLn, adminLn, ready) }()
	<-ready
	g.conn, err = grpc.NewClient(g.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.conn.Close()
		g.stop(t)
	})
	return g
}

// stop shuts the gateway down and waits for Serve to return; it is safe to call twice.
func (g *gateway) stop(t testing.TB) {
	t.Helper()
	g.once.Do(func() {
		g.cancel()
		select {
		case err := <-g.done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("gateway did not stop within 30s")
		}
	})
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
