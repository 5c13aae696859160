package registry

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/protogate/gateway/config"
	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	registryv1 "github.com/protogate/gateway/gen/gateway/registry/v1"
	"github.com/protogate/gateway/registry/store"
	"github.com/protogate/gateway/routing"
)

// Version is one accepted version of a registration.
type Version struct {
	Name      string
	Number    uint64
	Digest    string
	Created   time.Time
	Source    adminv1.SourceKind
	Endpoints []string // empty when Cluster is set
	Cluster   string   // a cluster of the config file serving it instead of Endpoints, or ""
	Services  []string // as requested, sorted, each once; empty means every service outside google.*
	Exposed   []string // the services actually exposed, sorted
	Files     *protoregistry.Files

	ReflectionEndpoint string        // reflection sources without a Cluster: where to ask again
	Refresh            time.Duration // reflection sources: how often (0: never)

	descriptorSet []byte // Files, serialized deterministically
}

// same reports whether w asks for what v does: the same content (descriptors, endpoints or
// cluster, exposed services), the same requested services, and the same refresh from the same
// endpoint, all of which the digest counts (VersionDigest).
// The requested services count though the exposed ones are equal: a reflection refresh fetches
// the requested ones only, so they decide what later versions expose.
func (v *Version) same(w *Version) bool { return v.Digest == w.Digest }

// digest computes the version's digest from what it holds (VersionDigest).
func (v *Version) digest() string {
	return VersionDigest(Digest(v.Files, v.Endpoints, v.Exposed, v.Cluster), v.Services, v.Refresh, v.ReflectionEndpoint)
}

// serviceSet returns a sorted, repeat-free copy of services: requested services count as a set.
func serviceSet(services []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(services)))
}

func (v *Version) registration() *Registration {
	return &Registration{Name: v.Name, Endpoints: v.Endpoints, Cluster: v.Cluster, Files: v.Files, Services: v.Exposed}
}

// Proto describes the version as the admin API shows it, but for the endpoints of a version on a
// named cluster, which are the cluster's, in the config: the registry's descriptions fill them in.
func (v *Version) Proto(active bool) *adminv1.Registration { return v.proto(active) }

func (v *Version) proto(active bool) *adminv1.Registration {
	out := &adminv1.Registration{
		Name:              v.Name,
		Version:           v.Number,
		Digest:            v.Digest,
		Endpoints:         v.Endpoints,
		Services:          v.Exposed,
		RequestedServices: v.Services,
		Source:            v.Source,
		CreatedAt:         timestamppb.New(v.Created),
		Active:            active,
		Origin:            adminv1.Origin_ORIGIN_ADMIN,
		Cluster:           cmp.Or(v.Cluster, v.Name),
	}
	describeDescriptors(out, v.Files, v.Exposed)
	if v.Refresh > 0 {
		out.RefreshInterval = durationpb.New(v.Refresh)
	}
	return out
}

// record serializes the version for the store.
func (v *Version) record() (store.Record, error) {
	sv := &registryv1.StoredVersion{
		Name:               v.Name,
		Endpoints:          v.Endpoints,
		Services:           v.Services,
		Source:             v.Source,
		DescriptorSet:      v.descriptorSet,
		ReflectionEndpoint: v.ReflectionEndpoint,
		Cluster:            v.Cluster,
	}
	if v.Refresh > 0 {
		sv.RefreshInterval = durationpb.New(v.Refresh)
	}
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(sv)
	if err != nil {
		return store.Record{}, err
	}
	return store.Record{Name: v.Name, Version: v.Number, Digest: v.Digest, CreatedAt: v.Created, Payload: payload}, nil
}

// decodeVersion rebuilds a version from the store.
func decodeVersion(rec store.Record) (*Version, error) {
	var sv registryv1.StoredVersion
	if err := proto.Unmarshal(rec.Payload, &sv); err != nil {
		return nil, fmt.Errorf("store: registration %q version %d: %w", rec.Name, rec.Version, err)
	}
	files, err := FilesFromDescriptorSet(sv.GetDescriptorSet())
	if err != nil {
		return nil, fmt.Errorf("store: registration %q version %d: %w", rec.Name, rec.Version, err)
	}
	v := &Version{
		Name:               rec.Name,
		Number:             rec.Version,
		Digest:             rec.Digest,
		Created:            rec.CreatedAt,
		Source:             sv.GetSource(),
		Endpoints:          sv.GetEndpoints(),
		Cluster:            sv.GetCluster(),
		Services:           serviceSet(sv.GetServices()), // an older gateway stored them as asked for
		Files:              files,
		ReflectionEndpoint: sv.GetReflectionEndpoint(),
		Refresh:            sv.GetRefreshInterval().AsDuration(),
		descriptorSet:      sv.GetDescriptorSet(),
	}
	exposed, err := exposedNames(&Registration{Name: v.Name, Files: files, Services: v.Services})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	v.Exposed = exposed
	if len(v.Services) > 0 || v.Refresh > 0 {
		// An older gateway's digest of such a version left the requested services and the refresh
		// out: computed again, it equals what a registration or refresh of the same computes now.
		// Other versions keep the digest stored with them, which VersionDigest still gives.
		v.Digest = v.digest()
	}
	return v, nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// validateRegisterRequest checks what can be checked without fetching anything.
func validateRegisterRequest(req *adminv1.RegisterRequest) error {
	name := req.GetName()
	switch {
	case name == "":
		return status.Error(codes.InvalidArgument, "name is empty: name the registration (lower-case letters, digits, '.', '_', '-')")
	case !nameRE.MatchString(name):
		return status.Errorf(codes.InvalidArgument, "name %q is invalid: use up to 63 lower-case letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	// As for a service of the config file: endpoints or a cluster, not both.
	cluster := req.GetCluster()
	switch {
	case cluster != "" && len(req.GetEndpoints()) > 0:
		return status.Errorf(codes.InvalidArgument, "registration %q: set either cluster (%q) or endpoints, not both", name, cluster)
	case cluster == "" && len(req.GetEndpoints()) == 0:
		return status.Errorf(codes.InvalidArgument, "registration %q has no endpoints: give at least one host:port, or a cluster of the config file", name)
	}
	for i, ep := range req.GetEndpoints() {
		if err := ValidateEndpoint(ep); err != nil {
			return status.Errorf(codes.InvalidArgument, "registration %q: %v", name, err)
		}
		if slices.Contains(req.GetEndpoints()[:i], ep) {
			return status.Errorf(codes.InvalidArgument, "registration %q: endpoint %s is listed twice", name, ep)
		}
	}
	if req.GetSource() == nil {
		return status.Errorf(codes.InvalidArgument, "registration %q has no descriptors: give a descriptor set, .proto sources or reflection", name)
	}
	if ep := req.GetReflection().GetEndpoint(); ep != "" {
		if cluster != "" {
			return status.Errorf(codes.InvalidArgument, "registration %q: reflection endpoint %s is set with cluster %q, whose first endpoint reflection asks (as for the config file's services): leave it out", name, ep, cluster)
		}
		if err := ValidateEndpoint(ep); err != nil {
			return status.Errorf(codes.InvalidArgument, "registration %q: reflection %v", name, err)
		}
	}
	if d := req.GetReflection().GetRefreshInterval(); d != nil && d.AsDuration() < time.Second {
		return status.Errorf(codes.InvalidArgument, "registration %q: refresh interval %v is below the 1s minimum", name, d.AsDuration())
	}
	return nil
}

// ValidateEndpoint checks that ep is "host:port": the host a DNS name, an IPv4 address or a
// bracketed IPv6 address, the port a number from 1 to 65535 (config.CheckEndpoint).
func ValidateEndpoint(ep string) error {
	if err := config.CheckEndpoint(ep); err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	return nil
}

// resolve fetches or compiles the request's descriptors into a version (not yet numbered). cluster
// is the config cluster the request names, if it names one.
func (r *Registry) resolve(ctx context.Context, req *adminv1.RegisterRequest, cluster *ClusterSpec) (*Version, error) {
	v := &Version{Name: req.GetName(), Endpoints: slices.Clone(req.GetEndpoints()), Services: serviceSet(req.GetServices())}
	if cluster != nil {
		v.Cluster = cluster.Name
	}
	var err error
	switch src := req.GetSource().(type) {
	case *adminv1.RegisterRequest_DescriptorSet:
		v.Source = adminv1.SourceKind_SOURCE_KIND_DESCRIPTOR_SET
		v.Files, err = FilesFromDescriptorSet(src.DescriptorSet)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "registration %q: %v", v.Name, err)
		}
	case *adminv1.RegisterRequest_Protos:
		v.Source = adminv1.SourceKind_SOURCE_KIND_PROTO_SOURCES
		if len(src.Protos.GetFiles()) == 0 {
			return nil, status.Errorf(codes.InvalidArgument, "registration %q: no .proto files given", v.Name)
		}
		v.Files, err = FilesFromProtos(ctx, src.Protos.GetFiles(), src.Protos.GetEntryPoints())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "registration %q: %v", v.Name, err)
		}
	case *adminv1.RegisterRequest_Reflection:
		v.Source = adminv1.SourceKind_SOURCE_KIND_REFLECTION
		v.Refresh = src.Reflection.GetRefreshInterval().AsDuration()
		from, over := src.Reflection.GetEndpoint(), routing.Transport{}
		if cluster != nil {
			if from, over, err = cluster.reflectionTarget(); err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "registration %q: %v", v.Name, err)
			}
		} else {
			if from == "" {
				from = v.Endpoints[0]
			}
			v.ReflectionEndpoint = from
		}
		v.Files, err = r.fetch(ctx, from, over, v.Services)
		if err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "registration %q: %v", v.Name, err)
		}
	}
	if err := v.finish(); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	return v, nil
}

// finish computes what a version derives from its descriptors: exposed services, serialized set, digest.
func (v *Version) finish() error {
	exposed, err := exposedNames(&Registration{Name: v.Name, Files: v.Files, Services: v.Services})
	if err != nil {
		return err
	}
	v.Exposed = exposed
	slices.Sort(v.Exposed)
	if v.descriptorSet, err = DescriptorSetOf(v.Files); err != nil {
		return fmt.Errorf("registration %q: %w", v.Name, err)
	}
	v.Digest = v.digest()
	return nil
}
