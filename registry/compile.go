package registry

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/protogate/gateway/config"
	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/schema"
	"github.com/protogate/gateway/transcoder"
)

// Registration is one backend team's service as the registry holds it: a name, where it runs, and its
// descriptors.
type Registration struct {
	// Name identifies the registration; registering the same name again updates it.
	Name string
	// Endpoints are the "host:port" addresses of the service's instances. They form a cluster named
	// like the registration, unless Cluster names a cluster of the spec (Spec.Clusters) instead.
	Endpoints []string
	Cluster   string
	// Files holds the service's descriptors and everything they import.
	Files *protoregistry.Files
	// Services lists the fully qualified services to expose; empty means every service declared in Files
	// outside the google.* packages.
	Services []string

	// reflectFrom is, for a config service whose descriptors come by server reflection, the endpoint
	// asked (StaticRegistrations sets it), and reflectOver the transport of the cluster it belongs
	// to: with Name, Cluster and Services they identify the config section, so that a reload keeps
	// the descriptors of a section that did not change.
	reflectFrom string
	reflectOver routing.Transport
	// source is, for a config service, where StaticRegistrations loaded its descriptors from: what
	// the admin API shows.
	source adminv1.SourceKind
	// sourceFiles are the files on disk StaticRegistrations read its descriptors from.
	sourceFiles []string
	// where is, for a config service, its place in the config file ("file:line:col: services[i]"),
	// and servicesWhere that of each of Services: Compile's problems with it start there (see
	// ServiceError), and those with another registration name it there too.
	where         string
	servicesWhere []string
}

// ServiceError is a problem Compile finds with one of the config file's services (its descriptors
// lack a service it lists, or it claims what another registration has): its message starts with
// the place of the entry at fault in the file, Where ("file:line:col: services[i]"), as the config's
// own problems do; a registration it clashes with is named with its place too.
type ServiceError struct {
	Where string
	Err   error
}

func (e *ServiceError) Error() string { return e.Where + ": " + e.Err.Error() }

func (e *ServiceError) Unwrap() error { return e.Err }

// placed returns err, a problem with a config service, as a ServiceError at where, the place in
// the config file of the service or of its field at fault; where is "" for a registration of the
// admin API, whose problems are err alone.
func placed(where string, err error) error {
	if where == "" {
		return err
	}
	return &ServiceError{Where: where, Err: err}
}

// label names r in a problem about another registration: quoted, with its place in the config file
// when it is a config service.
func (r *Registration) label() string { return regLabel(r.Name, r.where) }

// regLabel names a registration in problems: its quoted name, followed by its place in the config
// file, where, unless that is "".
func regLabel(name, where string) string {
	if where == "" {
		return strconv.Quote(name)
	}
	return strconv.Quote(name) + " (" + where + ")"
}

// SourceFiles are the files on disk that a config service's descriptors were read from, when
// StaticRegistrations loaded it: its descriptor set, or its .proto files and those they import from
// its import paths (not the google files the gateway links). None for reflection, nor for a
// registration of the admin API.
func (r *Registration) SourceFiles() []string { return slices.Clone(r.sourceFiles) }

// Spec is everything a snapshot is compiled from.
type Spec struct {
	Clusters      []ClusterSpec
	Routes        []RouteSpec // in priority order; generated per-service routes follow them
	Registrations []*Registration
	REST          []transcoder.RouterOption // options of the REST router (default routes on or off)
	GraphQL       schema.Options            // links, overrides and prefixes of the GraphQL schema
	GraphQLFront  resolvers.Options         // limits, persisted operations and their REST routes of the GraphQL front
	OpenAPI       transcoder.OpenAPIOptions // title and version of the OpenAPI document
	// Policies are the config's policies, which Admission compiles.
	Policies config.Policies
	// Admission compiles the policy chains of a snapshot's methods (every method of every
	// registered service, sorted) into the snapshot's admitter; resolve maps a REST request to the
	// binding it calls. Nil admits every call.
	Admission func(policies config.Policies, methods []string, resolve func(*http.Request) (*transcoder.Binding, bool)) (routing.Admitter, error)
	// Pending are config services whose descriptors are to come by reflection from a backend that has
	// not answered yet (StaticRegistrations with Defer). They serve nothing: the registry asks their
	// backends again in the background and moves each to Registrations once it answers.
	Pending []PendingRegistration
}

// ClusterSpec is a named set of upstream endpoints.
type ClusterSpec struct {
	Name      string
	Endpoints []string
	// Config holds balancing and resilience settings; its Weights, when set, parallel Endpoints.
	// The zero value means the defaults.
	Config routing.ClusterConfig
}

// cluster returns the cluster of s named name; an unknown name is an error naming the clusters
// there are.
func (s Spec) cluster(name string) (ClusterSpec, error) {
	names := make([]string, 0, len(s.Clusters))
	for _, c := range s.Clusters {
		if c.Name == name {
			return c, nil
		}
		names = append(names, strconv.Quote(c.Name))
	}
	if len(names) == 0 {
		return ClusterSpec{}, fmt.Errorf("unknown cluster %q: the config file defines no clusters", name)
	}
	return ClusterSpec{}, fmt.Errorf("unknown cluster %q: the config file defines %s", name, strings.Join(names, ", "))
}

// RouteSpec is a route whose targets are named clusters.
type RouteSpec struct {
	Name     string
	Where    string // the route's place in the config file ("file:line:col: routes[i]"), for warnings
	Match    routing.Match
	Clusters []WeightedCluster
	Timeout  time.Duration
	Retry    routing.RetryPolicy // unary calls; the zero value means the defaults
}

// WeightedCluster names a route target and its share of the route's calls.
type WeightedCluster struct {
	Name   string
	Weight uint32
}

// gatewayService reports whether the gateway answers the service itself on its gRPC front: health
// checks and server reflection. No registration can claim one: calls of it would never reach the
// registration's backend over gRPC, while REST and GraphQL would route them there.
func gatewayService(name string) bool {
	return strings.HasPrefix(name, "grpc.health.") || strings.HasPrefix(name, "grpc.reflection.")
}

// ErrConflict is wrapped by Compile when two registrations claim the same service, REST route or
// GraphQL name.
var ErrConflict = errors.New("conflict")

// ErrPolicies is wrapped by Compile when the spec's policies do not compile (Spec.Admission): the
// config's policies are at fault, not the registrations.
var ErrPolicies = errors.New("policies")

// Compile builds a snapshot from spec, taking endpoints from pool. It validates everything first: on
// error nothing is acquired and the caller keeps serving its current snapshot. A snapshot that is
// published must later be retired with Retire, which returns its endpoints to the pool.
func Compile(spec Spec, pool *routing.Pool, version uint64) (*Snapshot, error) {
	c := &compilation{
		spec: spec,
		s: &Snapshot{
			version:  version,
			built:    time.Now(),
			methods:  make(map[string]routing.CallKind),
			known:    make(map[string]bool),
			clusters: make(map[string]*routing.Cluster),
		},
		owner:       make(map[string]string),
		clusterOf:   make(map[string]string),
		methodCount: make(map[string]int32),
		endpointsOf: make(map[string][]string),
		configOf:    make(map[string]routing.ClusterConfig),
	}
	if err := c.registrations(); err != nil {
		return nil, err
	}
	if err := c.fronts(); err != nil {
		return nil, err
	}
	routes, err := c.routes()
	if err != nil {
		return nil, err
	}
	if err := c.link(pool, routes); err != nil {
		c.release(pool)
		return nil, err
	}
	c.summarize()
	return c.s, nil
}

// compilation is Compile's work in progress: the snapshot being built and what its steps learn
// about the spec on the way. The steps run in order; every one but link only validates and
// derives, so that a spec refused before link has taken nothing from the pool.
type compilation struct {
	spec Spec
	s    *Snapshot

	owner       map[string]string // service -> the registration that provides it
	clusterOf   map[string]string // service -> the cluster its calls go to
	methodCount map[string]int32  // service -> its number of methods
	endpointsOf map[string][]string
	configOf    map[string]routing.ClusterConfig
	exposed     []exposure // what each registration exposes, in the spec's order
	services    []protoreflect.ServiceDescriptor
}

// registrations checks the registrations and clusters against each other (unique names, one
// provider per service, known clusters) and learns which services, methods and clusters the
// snapshot serves.
func (c *compilation) registrations() error {
	s, spec := c.s, c.spec
	sorted := slices.Clone(spec.Registrations)
	slices.SortFunc(sorted, func(a, b *Registration) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Name == sorted[i-1].Name {
			where := cmp.Or(sorted[i].where, sorted[i-1].where) // the config service's
			return placed(where, fmt.Errorf("%w: two registrations are named %q (one of the config file and one made through the admin API?)", ErrConflict, sorted[i].Name))
		}
	}
	s.regs = sorted
	byName := make(map[string]*Registration, len(sorted))
	for _, r := range sorted {
		byName[r.Name] = r
	}
	// Validate in the caller's order: a registration whose problem is a conflict is reported as the
	// one colliding with those before it, so the registry passes the changed one last.
	regs := spec.Registrations

	files, shared, err := mergeFiles(regs)
	if err != nil {
		return err
	}
	s.files = files
	s.types = newTypes(files)

	for _, cs := range spec.Clusters {
		if _, dup := c.endpointsOf[cs.Name]; dup {
			return fmt.Errorf("cluster %q is defined twice", cs.Name)
		}
		if cs.Config.Weights != nil && len(cs.Config.Weights) != len(cs.Endpoints) {
			return fmt.Errorf("cluster %q: %d weights for %d endpoints", cs.Name, len(cs.Config.Weights), len(cs.Endpoints))
		}
		c.endpointsOf[cs.Name] = cs.Endpoints
		c.configOf[cs.Name] = cs.Config
	}
	for _, r := range regs {
		services, err := exposedServices(r)
		if err != nil {
			return err
		}
		// What the snapshot serves of a service is linked to the copies of the shared files it
		// serves, the newest (see sharedFiles).
		if services, err = shared.linkToServed(r.Files, services); err != nil {
			return placed(r.where, fmt.Errorf("registration %q: %w", r.Name, err))
		}
		c.exposed = append(c.exposed, exposure{reg: r.Name, where: r.where, files: r.Files, services: services})
		c.services = append(c.services, services...)
		cluster := r.Cluster
		if cluster == "" {
			cluster = r.Name
			if _, dup := c.endpointsOf[cluster]; dup {
				return placed(r.where, fmt.Errorf("%w: registration %q: it takes a cluster named after it, and a cluster named %q already exists; rename that cluster (or, for a config file service, set the service's cluster)", ErrConflict, r.Name, cluster))
			}
			c.endpointsOf[cluster] = r.Endpoints
		} else if _, err := spec.cluster(cluster); err != nil {
			return placed(r.where, fmt.Errorf("registration %q: %w", r.Name, err))
		}
		for _, sd := range services {
			name := string(sd.FullName())
			if other, taken := c.owner[name]; taken {
				return placed(r.where, fmt.Errorf("%w: service %s is provided by both registration %s and %q", ErrConflict, name, byName[other].label(), r.Name))
			}
			c.owner[name] = r.Name
			c.clusterOf[name] = cluster
			s.known[name] = true
			methods := sd.Methods()
			c.methodCount[name] = int32(methods.Len())
			for i := range methods.Len() {
				m := methods.Get(i)
				s.methods["/"+name+"/"+string(m.Name())] = routing.KindOf(m)
			}
		}
	}
	s.services = slices.Sorted(maps.Keys(c.owner))
	return nil
}

// fronts builds what the REST and GraphQL fronts serve (the GraphQL schema, the REST router, the
// OpenAPI document), refusing names and routes two registrations claim.
func (c *compilation) fronts() error {
	s, spec := c.s, c.spec
	// The REST bindings are checked here; GraphQL names by building the schema, the one source of
	// truth for them (prefixes, overrides and hidden methods included). Both are reported together.
	problems := checkFronts(c.exposed)
	gql := spec.GraphQL
	var waitingLinks, waitingOverrides []string
	gql.Links, waitingLinks = activeLinks(gql.Links, c.owner, s.files)
	gql.Overrides, waitingOverrides = activeOverrides(gql.Overrides, s.known, s.methods)
	s.gqlWaiting = slices.Sorted(slices.Values(append(waitingLinks, waitingOverrides...)))
	if len(c.services) > 0 {
		var err error
		if s.graphql, err = schema.Build(c.services, gql); err != nil {
			if err := problems.graphQLProblems(err, c.exposed); err != nil {
				return err
			}
		}
	}
	if err := problems.err(); err != nil {
		return err
	}
	s.routeHeaders = routeHeaders(spec)
	restOpts := append([]transcoder.RouterOption{transcoder.WithTypes(s.types),
		transcoder.WithRouteHeaders(s.routeHeaders...)}, spec.REST...)
	var err error
	if s.rest, err = transcoder.NewRouter(c.services, restOpts...); err != nil {
		return err
	}
	if err := checkOperationRoutes(spec.GraphQLFront.Routes, s.rest); err != nil {
		return err
	}
	s.graphqlFront = spec.GraphQLFront
	// The OpenAPI document is derived information: a binding it cannot describe (two templates the
	// router tells apart that OpenAPI holds to be one path) is left out of it alone, never refusing
	// the registration nor taking the other bindings' descriptions with it.
	var omitted []error
	s.openapi, omitted, s.openapiErr = transcoder.OpenAPI(c.services, spec.OpenAPI)
	for _, err := range omitted {
		s.openapiOmitted = append(s.openapiOmitted, err.Error())
	}
	return nil
}

// routes returns the routing table's routes, not yet linked to their clusters: the config's, in
// its order, then one per service, which sends its calls to the service's cluster.
func (c *compilation) routes() ([]routing.Route, error) {
	var routes []routing.Route
	for _, rs := range c.spec.Routes {
		r := routing.Route{Name: rs.Name, Match: rs.Match, Timeout: rs.Timeout, Retry: rs.Retry}
		for _, wc := range rs.Clusters {
			if _, ok := c.endpointsOf[wc.Name]; !ok {
				return nil, fmt.Errorf("route %q: unknown cluster %q", rs.Name, wc.Name)
			}
			r.Clusters = append(r.Clusters, routing.WeightedCluster{Weight: wc.Weight}) // cluster filled by link
		}
		routes = append(routes, r)
	}
	for _, name := range c.s.services {
		routes = append(routes, routing.Route{
			Name:     "service:" + name,
			Match:    routing.Match{Prefix: "/" + name + "/"},
			Clusters: []routing.WeightedCluster{{Weight: 1}},
		})
	}
	return routes, nil
}

// link takes the clusters' endpoints from the pool, links routes to their clusters into the
// snapshot's table, and compiles the policies. Everything else is valid by now. The snapshot holds
// a reference per acquire: clusters that list one address share its endpoint when they reach it
// over the same transport with the same breaker, health check and outlier settings; otherwise each
// has its own. Clusters are taken in name order, so that a config compiles alike every time, to
// the dialing order. On error the caller releases what link took (release).
func (c *compilation) link(pool *routing.Pool, routes []routing.Route) error {
	s, spec := c.s, c.spec
	for _, name := range slices.Sorted(maps.Keys(c.endpointsOf)) {
		addrs, cfg := c.endpointsOf[name], c.configOf[name]
		if cfg.DNSRefresh > 0 && hasHostName(addrs) {
			rc, err := pool.NewResolvedCluster(name, addrs, cfg)
			if err != nil {
				return err
			}
			s.resolved = append(s.resolved, rc)
			s.clusters[name] = rc
			continue
		}
		eps := make([]*routing.Endpoint, 0, len(addrs))
		for _, addr := range addrs {
			ep, err := pool.AcquireWith(addr, cfg.Transport, cfg.Endpoint)
			if err != nil {
				return fmt.Errorf("cluster %q: %w", name, err)
			}
			s.endpoints = append(s.endpoints, ep)
			eps = append(eps, ep)
		}
		s.clusters[name] = routing.NewCluster(name, eps, routing.WithClusterConfig(cfg))
	}
	for i, rs := range spec.Routes {
		for j, wc := range rs.Clusters {
			routes[i].Clusters[j].Cluster = s.clusters[wc.Name]
		}
	}
	for i, name := range s.services {
		routes[len(spec.Routes)+i].Clusters[0].Cluster = s.clusters[c.clusterOf[name]]
	}
	var err error
	if s.table, err = routing.NewTable(routes); err != nil {
		return err
	}
	if spec.Admission != nil {
		if s.admitter, err = spec.Admission(spec.Policies, slices.Sorted(maps.Keys(s.methods)), s.restBinding); err != nil {
			return fmt.Errorf("%w: %w", ErrPolicies, err)
		}
	}
	return nil
}

// release gives back what a failed link took from the pool.
func (c *compilation) release(pool *routing.Pool) {
	for _, ep := range c.s.endpoints {
		pool.Release(ep)
	}
	for _, rc := range c.s.resolved {
		rc.Close()
	}
}

// summarize records what the admin API and the warnings show of the snapshot: services and rules
// waiting for a registration, rules and routes that match nothing, and each service's status.
func (c *compilation) summarize() {
	s, spec := c.s, c.spec
	s.waiting = waitingServices(spec.Pending, c.owner)
	s.rulesWaiting, s.rulesUnmatched = ruleWarnings(spec.Policies.Rules, s.known, s.methods, spec.Routes)
	s.shadowedRoutes = shadowedRoutes(spec.Routes)
	s.svcInfo = make(map[string]*adminv1.ServiceStatus, len(s.services))
	for _, name := range s.services {
		cluster := c.clusterOf[name]
		s.svcInfo[name] = &adminv1.ServiceStatus{
			Name: name, Registration: c.owner[name], MethodCount: c.methodCount[name],
			Cluster: cluster, Endpoints: c.endpointsOf[cluster],
		}
	}
}

// waitingServices maps the services pending config services name (their services lists) to why
// they are not served yet, leaving out any a loaded registration serves. A pending service without
// a services list names none: which services its backend has is what reflection would tell.
func waitingServices(pending []PendingRegistration, owner map[string]string) map[string]string {
	var out map[string]string
	for _, p := range pending {
		reg := p.Registration
		for _, name := range reg.Services {
			if _, served := owner[name]; served {
				continue
			}
			if out == nil {
				out = make(map[string]string)
			}
			out[name] = fmt.Sprintf("config service %q waits for its descriptors from %s (server reflection), which has not answered yet", reg.Name, reg.reflectFrom)
		}
	}
	return out
}

// restBinding returns the binding a REST request calls, by the snapshot's REST router (a WebSocket
// handshake included).
func (s *Snapshot) restBinding(r *http.Request) (*transcoder.Binding, bool) {
	var p transcoder.Params
	b, err := s.rest.MatchCall(r, &p)
	if err != nil {
		return nil, false
	}
	return b, true
}

// Retire returns the snapshot's endpoints to the pool. Call it once the snapshot is no longer current;
// endpoints still in use by another snapshot stay connected, and calls in flight finish first.
func (s *Snapshot) Retire(pool *routing.Pool) { s.RetireLingering(pool, 0) }

// RetireLingering is Retire for a snapshot another has just replaced, on which calls may still be
// starting (a caller that loaded it just before the swap): the endpoints no other snapshot holds
// stop being health-checked and watched at once, and stay connected, taking calls, for linger
// ([routing.Pool.ReleaseLingering]); then they drain as Retire's do.
func (s *Snapshot) RetireLingering(pool *routing.Pool, linger time.Duration) {
	for _, ep := range s.endpoints {
		pool.ReleaseLingering(ep, linger)
	}
	s.endpoints = nil
	for _, c := range s.resolved {
		c.CloseLingering(linger)
	}
	s.resolved = nil
}

// hasHostName reports whether any of addrs ("host:port") names its host rather than giving an IP.
func hasHostName(addrs []string) bool {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return true
		}
	}
	return false
}

// exposedNames is exposedServices' services by their full names, in its order.
func exposedNames(r *Registration) ([]string, error) {
	sds, err := exposedServices(r)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(sds))
	for i, sd := range sds {
		names[i] = string(sd.FullName())
	}
	return names, nil
}

// exposedServices returns the registration's services, checking that each one named exists. The
// services the gateway answers itself (gatewayService) are refused when named, left out when not.
func exposedServices(r *Registration) ([]protoreflect.ServiceDescriptor, error) {
	if len(r.Services) > 0 {
		names := slices.Compact(slices.Sorted(slices.Values(r.Services)))
		out := make([]protoreflect.ServiceDescriptor, 0, len(names))
		for _, name := range names {
			where := r.where // a config service's problem with a name: at the name, in its list
			if i := slices.Index(r.Services, name); i < len(r.servicesWhere) {
				where = r.servicesWhere[i]
			}
			d, err := r.Files.FindDescriptorByName(protoreflect.FullName(name))
			if err != nil {
				return nil, placed(where, fmt.Errorf("registration %q: service %s is not in its descriptors", r.Name, name))
			}
			sd, ok := d.(protoreflect.ServiceDescriptor)
			if !ok {
				return nil, placed(where, fmt.Errorf("registration %q: %s is not a service", r.Name, name))
			}
			if gatewayService(name) {
				return nil, placed(where, fmt.Errorf("%w: registration %q: service %s is the gateway's own: it answers health checks and server reflection itself", ErrConflict, r.Name, name))
			}
			out = append(out, sd)
		}
		return out, nil
	}
	var out []protoreflect.ServiceDescriptor
	skipped := false // the files declare a service of the gateway's own, left out
	r.Files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if strings.HasPrefix(string(fd.Package()), "google.") {
			return true
		}
		svcs := fd.Services()
		for i := range svcs.Len() {
			if sd := svcs.Get(i); gatewayService(string(sd.FullName())) {
				skipped = true
			} else {
				out = append(out, sd)
			}
		}
		return true
	})
	if len(out) == 0 && skipped {
		return nil, placed(r.where, fmt.Errorf("registration %q declares no service besides health checks or server reflection, which the gateway answers itself", r.Name))
	}
	if len(out) == 0 {
		return nil, placed(r.where, fmt.Errorf("registration %q declares no service", r.Name))
	}
	slices.SortFunc(out, func(a, b protoreflect.ServiceDescriptor) int {
		return strings.Compare(string(a.FullName()), string(b.FullName()))
	})
	return out, nil
}

// FilesOf collects the given files and everything they import, directly or not, into a new registry.
func FilesOf(fds ...protoreflect.FileDescriptor) (*protoregistry.Files, error) {
	files := new(protoregistry.Files)
	var add func(fd protoreflect.FileDescriptor) error
	add = func(fd protoreflect.FileDescriptor) error {
		if _, err := files.FindFileByPath(fd.Path()); err == nil {
			return nil
		}
		imports := fd.Imports()
		for i := range imports.Len() {
			if err := add(imports.Get(i).FileDescriptor); err != nil {
				return err
			}
		}
		return files.RegisterFile(fd)
	}
	for _, fd := range fds {
		if err := add(fd); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// activeLinks keeps the links whose ends are both served: a link declared in the config waits,
// without blocking anything, until the service it calls and a service of the package of the type it
// extends are registered. waiting says, for each of the others, what it waits for.
func activeLinks(links []schema.Link, owner map[string]string, files *protoregistry.Files) (active []schema.Link, waiting []string) {
	served := func(method string) bool {
		svc, _, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
		_, ok := owner[svc]
		return ok
	}
	packageServed := func(typeName string) bool {
		d, err := files.FindDescriptorByName(protoreflect.FullName(typeName))
		if err != nil {
			return false
		}
		pkg := string(d.ParentFile().Package()) + "."
		for svc := range owner {
			if strings.HasPrefix(svc, pkg) && !strings.Contains(svc[len(pkg):], ".") {
				return true
			}
		}
		return false
	}
	for _, l := range links {
		var missing string
		switch {
		case !served(l.Method):
			missing = "the service of its method " + l.Method
		case l.Batch != nil && !served(l.Batch.Method):
			missing = "the service of its batch method " + l.Batch.Method
		case !packageServed(l.OnType):
			missing = "a service of the package of " + l.OnType
		default:
			active = append(active, l)
			continue
		}
		waiting = append(waiting, fmt.Sprintf("link %s.%s: %s is not registered", l.OnType, l.Field, missing))
	}
	return active, waiting
}

// activeOverrides keeps the overrides whose service or method is served: as a link does, an
// override waits, without blocking anything, until what it names is registered. So an override can
// rename the root field of a method still to come, which would otherwise take a name another
// service's method has. waiting says, for each of the others, what it waits for. An override that
// names nothing it could (both or neither of service and method, a malformed method) is kept, for
// schema.Build to refuse.
func activeOverrides(overrides []schema.Override, known map[string]bool, methods map[string]routing.CallKind) (active []schema.Override, waiting []string) {
	for _, o := range overrides {
		switch target := o.Target(); {
		case target == "":
		case o.Service != "" && !known[target]:
			waiting = append(waiting, fmt.Sprintf("%s: no registered service has that name", o))
			continue
		case o.Method != "":
			if _, ok := methods["/"+target]; !ok {
				waiting = append(waiting, fmt.Sprintf("%s: no registered service has that method", o))
				continue
			}
		}
		active = append(active, o)
	}
	return active, waiting
}
