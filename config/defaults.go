package config

import (
	"strconv"
	"strings"
	"time"
)

// Defaults for fields the file leaves out.
const (
	DefaultListen                   = "127.0.0.1:8080"
	DefaultAdminListen              = "127.0.0.1:9090"
	DefaultKeepVersions             = 20
	DefaultShutdownGrace            = 30 * time.Second
	DefaultMaxMessageBytes ByteSize = 4 * MiB
	DefaultConnectTimeout           = 5 * time.Second
	DefaultEndpointWeight           = 1
)

// Default returns the configuration of an empty gateway: no clusters,
// routes or services, and every default filled.
func Default() *Config {
	c := new(Config)
	c.complete()
	return c
}

// complete fills the defaults documented on the fields and the values
// derived from others. It is idempotent.
func (c *Config) complete() {
	setDefault(&c.Listen, DefaultListen)
	setDefault(&c.AdminListen, DefaultAdminListen)
	setDefault(&c.KeepVersions, DefaultKeepVersions)
	setDefault(&c.ShutdownGrace, DefaultShutdownGrace)
	setDefault(&c.GRPC.MaxMessageBytes, DefaultMaxMessageBytes)
	c.GraphQL.complete()
	c.Policies.complete()
	for i := range c.Services {
		s := &c.Services[i]
		if s.Cluster == "" && len(s.Endpoints) > 0 {
			c.Clusters = append(c.Clusters, Cluster{Name: s.Name, Endpoints: s.Endpoints})
			s.Cluster, s.Endpoints = s.Name, nil
		}
	}
	for i := range c.Clusters {
		cl := &c.Clusters[i]
		setDefault(&cl.ConnectTimeout, DefaultConnectTimeout)
		cl.HashKey = strings.ToLower(cl.HashKey)
		for j := range cl.Endpoints {
			setDefault(&cl.Endpoints[j].Weight, DefaultEndpointWeight)
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		setDefault(&r.Name, "route-"+strconv.Itoa(i))
		if r.Match.Method != "" && !strings.HasPrefix(r.Match.Method, "/") {
			r.Match.Method = "/" + r.Match.Method
		}
		for j := range r.Match.Headers {
			h := &r.Match.Headers[j]
			h.Name = strings.ToLower(h.Name)
		}
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
