package shop

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
)

// Shop is the three shop services running in-process, each on its own loopback port.
type Shop struct {
	addrs   map[string]string
	cancel  context.CancelFunc
	stopped sync.WaitGroup
	close   sync.Once
}

// Start runs users, orders and catalog on 127.0.0.1 ports the OS chooses, with fresh seed data and
// the same options. Close stops them.
func Start(opts Options) (*Shop, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	backends := make(map[string]*backend, len(serviceNames))
	listeners := make(map[string]net.Listener, len(serviceNames))
	closeAll := func() error {
		var errs []error
		for _, lis := range listeners {
			errs = append(errs, lis.Close())
		}
		return errors.Join(errs...)
	}
	for _, name := range serviceNames {
		b, err := newBackend(name, opts)
		if err != nil {
			return nil, errors.Join(err, closeAll())
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, errors.Join(err, closeAll())
		}
		backends[name], listeners[name] = b, lis
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Shop{addrs: make(map[string]string, len(serviceNames)), cancel: cancel}
	for name, b := range backends {
		lis := listeners[name]
		s.addrs[name] = lis.Addr().String()
		s.stopped.Add(1)
		go func() {
			defer s.stopped.Done()
			_ = b.serve(ctx, lis) // a loopback listener fails only when closed, which Close does
		}()
	}
	return s, nil
}

// Addr returns the "127.0.0.1:port" address of a service ("users"), or "" for an unknown one.
func (s *Shop) Addr(service string) string { return s.addrs[service] }

// Services returns the names of the shop's services, sorted: catalog, orders, users.
func (s *Shop) Services() []string { return slices.Clone(serviceNames[:]) }

// ServiceName returns the proto name of a service ("users" -> "shop.users.v1.UserService"), or ""
// for an unknown one.
func (s *Shop) ServiceName(service string) string { return fullName(service) }

// Close stops all three services as Serve does and waits until they have stopped. Calling it
// again does nothing.
func (s *Shop) Close() {
	s.close.Do(func() {
		s.cancel()
		s.stopped.Wait()
	})
}
