package registry

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
)

// Describe returns the registration named name as the admin API shows it: the active version of one
// made through the admin API, or a service of the config file, served or pending.
func (r *Registry) Describe(name string) (*adminv1.Registration, error) {
	r.mu.Lock()
	d, ok := r.describedLocked(name)
	r.mu.Unlock()
	if !ok {
		return nil, notFound(name)
	}
	return d.proto(), nil
}

// DescribeAll returns every registration as the admin API shows it, by name: the active version of
// each one made through the admin API and every service of the config file, pending ones included.
func (r *Registry) DescribeAll() []*adminv1.Registration {
	r.mu.Lock()
	var all []described
	for _, reg := range r.base.Registrations {
		all = append(all, r.describedStaticLocked(reg, false))
	}
	for _, p := range r.base.Pending {
		all = append(all, r.describedStaticLocked(p.Registration, true))
	}
	for _, h := range r.names {
		if v := h.activeVersion(); v != nil {
			all = append(all, r.describedVersionLocked(v))
		}
	}
	r.mu.Unlock()
	out := make([]*adminv1.Registration, 0, len(all))
	for _, d := range all {
		out = append(out, d.proto())
	}
	slices.SortFunc(out, func(a, b *adminv1.Registration) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out
}

// described is what describing one registration takes, read under the registry's lock; the
// description itself (which hashes the descriptors) is built after.
type described struct {
	version *Version // made through the admin API: its active version; nil for a config service

	static     *Registration // a config service (without Files when pending)
	endpoints  []string      // the endpoints of its cluster (of a version: of the one it names)
	pending    bool
	pendingErr error // why its backend's reflection last did not answer
}

// describedLocked finds the registration named name: a config service first (no active admin
// registration can share its name: the snapshot would not compile).
func (r *Registry) describedLocked(name string) (described, bool) {
	for _, reg := range r.base.Registrations {
		if reg.Name == name {
			return r.describedStaticLocked(reg, false), true
		}
	}
	for _, p := range r.base.Pending {
		if p.Registration.Name == name {
			return r.describedStaticLocked(p.Registration, true), true
		}
	}
	if v := r.names[name].activeVersion(); v != nil {
		return r.describedVersionLocked(v), true
	}
	return described{}, false
}

// describedVersionLocked is the active version v of a registration made through the admin API.
func (r *Registry) describedVersionLocked(v *Version) described {
	d := described{version: v}
	if v.Cluster != "" {
		d.endpoints = r.clusterEndpointsLocked(v.Cluster)
	}
	return d
}

// describeVersion describes version v of a registration made through the admin API.
func (r *Registry) describeVersion(v *Version, active bool) *adminv1.Registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.describeVersionLocked(v, active)
}

// describeVersionLocked describes version v of a registration made through the admin API: on a
// named cluster, with the endpoints the cluster has now.
func (r *Registry) describeVersionLocked(v *Version, active bool) *adminv1.Registration {
	out := v.proto(active)
	if v.Cluster != "" {
		out.Endpoints = r.clusterEndpointsLocked(v.Cluster)
	}
	return out
}

// clusterEndpointsLocked returns a copy of the endpoints of the config's cluster named name; none
// when there is no such cluster (a pending service's, of a config that failed to load).
func (r *Registry) clusterEndpointsLocked(name string) []string {
	c, _ := r.base.cluster(name)
	return slices.Clone(c.Endpoints)
}

func (r *Registry) describedStaticLocked(reg *Registration, pending bool) described {
	d := described{static: reg, endpoints: slices.Clone(reg.Endpoints), pending: pending}
	if reg.Cluster != "" {
		d.endpoints = r.clusterEndpointsLocked(reg.Cluster)
	}
	if pending {
		d.pendingErr = r.waitErr[reg.Name] // as Pending reports it
	}
	return d
}

func (d described) proto() *adminv1.Registration {
	if d.version != nil {
		out := d.version.proto(true)
		if d.version.Cluster != "" {
			out.Endpoints = d.endpoints
		}
		return out
	}
	reg := d.static
	out := &adminv1.Registration{
		Name:      reg.Name,
		Origin:    adminv1.Origin_ORIGIN_CONFIG,
		Source:    reg.source,
		Cluster:   reg.Cluster,
		Endpoints: d.endpoints,
		Active:    !d.pending,
		Pending:   d.pending,
	}
	if out.Cluster == "" {
		out.Cluster = reg.Name
	}
	if d.pending {
		out.Services = slices.Clone(reg.Services)
		if d.pendingErr != nil {
			out.PendingError = d.pendingErr.Error()
		}
		return out
	}
	if sds, err := exposedServices(reg); err == nil { // it compiled: no error
		for _, sd := range sds {
			out.Services = append(out.Services, string(sd.FullName()))
		}
		slices.Sort(out.Services)
	}
	describeDescriptors(out, reg.Files, out.Services)
	out.Digest = Digest(reg.Files, d.endpoints, out.Services, "") // the cluster's endpoints, which change with the file
	return out
}

// describeDescriptors sets the method count of the exposed services and the files of a
// registration's description.
func describeDescriptors(out *adminv1.Registration, files *protoregistry.Files, exposed []string) {
	for _, name := range exposed {
		if d, err := files.FindDescriptorByName(protoreflect.FullName(name)); err == nil {
			if sd, ok := d.(protoreflect.ServiceDescriptor); ok {
				out.MethodCount += int32(sd.Methods().Len())
			}
		}
	}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		out.Files = append(out.Files, fd.Path())
		return true
	})
	slices.Sort(out.Files)
}
