package config

import (
	"path/filepath"
	"slices"
)

// resolvePaths makes the relative file paths in c relative to dir, the
// directory of the configuration file, so that they name the same files
// whatever the working directory of whoever wrote the file.
func (c *Config) resolvePaths(dir string) {
	resolve := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	resolve(&c.DataDir)
	resolve(&c.TLS.CertFile)
	resolve(&c.TLS.KeyFile)
	resolve(&c.TLS.ClientCAFile)
	resolve(&c.GraphQL.PersistedOperations.File)
	for i := range c.Clusters {
		t := &c.Clusters[i].TLS
		resolve(&t.CAFile)
		resolve(&t.CertFile)
		resolve(&t.KeyFile)
	}
	for i := range c.Services {
		s := &c.Services[i]
		resolve(&s.DescriptorSet)
		for j := range s.Protos {
			resolve(&s.Protos[j])
		}
		for j := range s.ImportPaths {
			resolve(&s.ImportPaths[j])
		}
	}
	c.Policies.resolvePaths(resolve)
}

// Files returns the files the configuration names for the gateway to read, each once: the data port's TLS certificate, key and client CA roots, the persisted operations file,
// each cluster's TLS files, each service's descriptor set or .proto files (not what they import,
// which compiling them finds), the JWT providers' key set and secret files, the Redis TLS files and
// the WAF's directives file. Paths are as Parse resolved them. Neither data_dir nor an access log
// file, which the gateway writes, is one of them.
func (c *Config) Files() []string {
	var files []string
	add := func(paths ...string) {
		for _, p := range paths {
			if p != "" && !slices.Contains(files, p) {
				files = append(files, p)
			}
		}
	}
	add(c.TLS.CertFile, c.TLS.KeyFile, c.TLS.ClientCAFile, c.GraphQL.PersistedOperations.File)
	for _, cl := range c.Clusters {
		add(cl.TLS.CAFile, cl.TLS.CertFile, cl.TLS.KeyFile)
	}
	for _, s := range c.Services {
		add(s.DescriptorSet)
		add(s.Protos...)
	}
	for _, p := range c.Policies.Auth.JWT {
		add(p.JWKSFile, p.SecretFile)
	}
	t := c.Policies.RateLimit.Redis.TLS
	add(t.CAFile, t.CertFile, t.KeyFile, c.Policies.WAF.DirectivesFile)
	return files
}
