package config

import "path/filepath"

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
