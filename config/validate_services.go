package config

import "path/filepath"

// services checks the static registrations.
func (v *validator) services(c *Config) {
	first := map[string]string{}
	for i, s := range c.Services {
		path := index("services", i)
		v.name(field(path, "name"), s.Name, "service", first)

		switch {
		case s.Cluster != "" && len(s.Endpoints) > 0:
			v.fieldf(field(path, "endpoints"), "set either cluster or endpoints, not both")
		case s.Cluster == "" && len(s.Endpoints) == 0:
			v.fieldf(path, "set cluster or endpoints")
		}
		if s.Cluster != "" {
			v.reference(field(path, "cluster"), s.Cluster)
		}
		v.endpoints(field(path, "endpoints"), s.Endpoints)

		v.exactlyOne(path, []string{"descriptor_set", "protos", "reflect"},
			[]bool{s.DescriptorSet != "", len(s.Protos) > 0, s.Reflect})
		v.file(field(path, "descriptor_set"), s.DescriptorSet)
		v.sources(path, s)

		exposed := map[string]string{}
		for j, name := range s.Services {
			p := index(field(path, "services"), j)
			switch prev, dup := exposed[name]; {
			case !validFullName(name):
				v.fieldf(p, "invalid service name %q: want a fully qualified name such as \"pkg.Service\"", name)
			case dup:
				v.fieldf(p, "duplicate service %q (first at line %d)", name, v.line(prev))
			default:
				exposed[name] = p
			}
		}
	}
}

// sources checks a service's .proto files and import paths.
func (v *validator) sources(path string, s Service) {
	imports := field(path, "import_paths")
	if len(s.ImportPaths) > 0 && len(s.Protos) == 0 {
		v.fieldf(imports, "only used with protos")
	}
	for j, dir := range s.ImportPaths {
		p := index(imports, j)
		if dir == "" {
			v.fieldf(p, "must not be empty")
		}
		v.dir(p, dir)
	}
	for j, file := range s.Protos {
		p := index(field(path, "protos"), j)
		switch {
		case file == "":
			v.fieldf(p, "must not be empty")
		case len(s.ImportPaths) > 0 && !underAny(file, s.ImportPaths):
			v.fieldf(p, "%q is not under any of import_paths", file)
		default:
			v.file(p, file)
		}
	}
}

// underAny reports whether file lies under one of the directories dirs.
func underAny(file string, dirs []string) bool {
	file, err := filepath.Abs(file)
	if err != nil {
		return false
	}
	for _, dir := range dirs {
		dir, err := filepath.Abs(dir)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(dir, file); err == nil && filepath.IsLocal(rel) {
			return true
		}
	}
	return false
}
