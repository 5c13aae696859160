package config

// clusterDefinitions checks the clusters, and the clusters that services
// with inline endpoints imply, and makes their names known to references.
func (v *validator) clusterDefinitions(c *Config) {
	first := map[string]string{}
	for i, cl := range c.Clusters {
		path := index("clusters", i)
		if v.name(field(path, "name"), cl.Name, "cluster", first) {
			v.define(cl.Name)
		}
		v.endpoints(field(path, "endpoints"), cl.Endpoints)
		if len(cl.Endpoints) == 0 {
			v.fieldf(field(path, "endpoints"), "want at least one endpoint")
		}
		v.clusterTLS(field(path, "tls"), cl.TLS)
		v.positive(field(path, "connect_timeout"), cl.ConnectTimeout)
	}
	for i, s := range c.Services {
		if s.Cluster != "" || len(s.Endpoints) == 0 || !validName(s.Name) {
			continue
		}
		if prev, dup := first[s.Name]; dup {
			v.fieldf(field(index("services", i), "endpoints"),
				"imply a cluster named %q, which is already defined at line %d", s.Name, v.line(prev))
			continue
		}
		first[s.Name] = field(index("services", i), "name")
		v.define(s.Name)
	}
}

func (v *validator) define(cluster string) {
	v.clusters[cluster] = true
	v.known = append(v.known, cluster)
}

// endpoints checks a list of endpoints.
func (v *validator) endpoints(path string, eps []Endpoint) {
	first := map[string]string{}
	for i, ep := range eps {
		p := index(path, i)
		addr := field(p, "address")
		if !v.has(addr) {
			addr = p // written as a plain "host:port"
		}
		switch prev, dup := first[ep.Address]; {
		case ep.Address == "":
			v.fieldf(field(p, "address"), "required")
		case dup:
			v.fieldf(addr, "duplicate endpoint %q (first at line %d)", ep.Address, v.line(prev))
		default:
			first[ep.Address] = addr
			v.address(addr, ep.Address, false)
		}
		v.weight(field(p, "weight"), ep.Weight)
	}
}

// clusterTLS checks TLS towards a cluster's endpoints.
func (v *validator) clusterTLS(path string, t ClusterTLS) {
	if !t.Enabled {
		for _, o := range []struct {
			key string
			set bool
		}{
			{"ca_file", t.CAFile != ""},
			{"server_name", t.ServerName != ""},
			{"insecure_skip_verify", t.InsecureSkipVerify},
		} {
			if o.set {
				v.fieldf(field(path, o.key), "has no effect unless enabled is true")
			}
		}
	}
	v.file(field(path, "ca_file"), t.CAFile)
}
