package registry

import (
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/schema"
	"github.com/protogate/gateway/transcoder"
)

// Snapshot is the gateway's complete serving state at one version: the merged descriptors of every
// registered service, the method table, the route table and the clusters it targets. It is immutable:
// built off the request path, validated, then published whole. Requests read the snapshot current when
// they start and finish on it.
type Snapshot struct {
	version    uint64
	built      time.Time
	files      *protoregistry.Files
	types      *types
	services   []string
	methods    map[string]routing.CallKind // full method name -> kind, for services with descriptors
	known      map[string]bool             // services with descriptors
	table      *routing.Table
	rest       *transcoder.Router
	graphql    *schema.Schema // nil when nothing is registered
	openapi    []byte
	openapiErr error // why openapi is nil
	clusters   map[string]*routing.Cluster
	regs       []*Registration
	svcInfo    map[string]*adminv1.ServiceStatus
	admitter   routing.Admitter  // the compiled policy chains, or nil
	waiting    map[string]string // service a pending config service names -> why it is not served yet
	gqlWaiting []string          // GraphQL links and overrides left out until what they name is registered
	// rulesWaiting, rulesUnmatched and shadowedRoutes are the warnings of ruleWarnings and
	// shadowedRoutes.
	rulesWaiting, rulesUnmatched, shadowedRoutes []string
	// openapiOmitted says which bindings openapi leaves out, which it cannot describe, and why.
	openapiOmitted []string

	endpoints []*routing.Endpoint // acquired from the pool; released when the snapshot retires
	resolved  []*routing.Cluster  // clusters re-resolving DNS names; closed when the snapshot retires

	graphqlFront resolvers.Options // the GraphQL front's options, as the spec gave them
	routeHeaders []string          // the headers its routes match on and its ring_hash clusters hash
}

// Version increases by one with every snapshot published.
func (s *Snapshot) Version() uint64 { return s.version }

// Built is when the snapshot was compiled.
func (s *Snapshot) Built() time.Time { return s.built }

// Routes is the route table; see routing.State.
func (s *Snapshot) Routes() *routing.Table { return s.table }

// GraphQL is the unified GraphQL schema of every exposed service, or nil when nothing is registered.
func (s *Snapshot) GraphQL() *schema.Schema { return s.graphql }

// GraphQLFront is the options of the GraphQL front from the spec: limits, introspection, persisted
// operations and their REST routes.
func (s *Snapshot) GraphQLFront() resolvers.Options { return s.graphqlFront }

// OpenAPI is the OpenAPI 3.1 document (JSON) of the REST surface, or nil with the reason from
// OpenAPIError when it could not be written. It describes every binding but those OpenAPIOmitted
// lists.
func (s *Snapshot) OpenAPI() []byte { return s.openapi }

// OpenAPIError says why OpenAPI is nil.
func (s *Snapshot) OpenAPIError() error { return s.openapiErr }

// OpenAPIOmitted describes the bindings the OpenAPI document leaves out, each naming its method and
// why ("method acme.v1.Books.GetAuthor: binding 0: GET /v2/{name=shelves/*/authors/*}: its path in
// the document, /v2/shelves/{name}, is Books_GetBook's already ..."). The REST front serves them
// all the same.
func (s *Snapshot) OpenAPIOmitted() []string { return s.openapiOmitted }

// DynamicTypes resolves the messages and extensions of the registered descriptors.
func (s *Snapshot) DynamicTypes() *dynamicpb.Types { return s.types.Types }

// REST is the REST front's router: every exposed method's HTTP bindings, compiled.
func (s *Snapshot) REST() *transcoder.Router { return s.rest }

// RouteHeaders are the request headers the snapshot's routing decisions read, lower-case and
// sorted: the names its routes' header conditions match on and the hash keys of its ring_hash
// clusters. The HTTP fronts pass them upstream as metadata besides their own allowlists, so a
// header-matched route or a hash key works over REST and GraphQL as over gRPC. Names no HTTP
// request header can become (hop-by-hop headers, keys gRPC reserves) are not listed.
func (s *Snapshot) RouteHeaders() []string { return s.routeHeaders }

// Method reports the call kind of a full method name; see routing.State.
func (s *Snapshot) Method(fullMethod string) (kind routing.CallKind, known, ok bool) {
	if k, ok := s.methods[fullMethod]; ok {
		return k, true, true
	}
	return routing.KindUnknown, s.known[serviceOf(fullMethod)], false
}

// Waiting reports, for a service the snapshot does not serve, whether a config service names it
// and waits for its descriptors (its backend has not answered reflection yet), and says so; see
// routing.WaitingState.
func (s *Snapshot) Waiting(service string) (why string, ok bool) {
	why, ok = s.waiting[service]
	return why, ok
}

// WaitingServices lists the services Waiting reports, sorted.
func (s *Snapshot) WaitingServices() []string { return slices.Sorted(maps.Keys(s.waiting)) }

// WaitingGraphQL describes the links and overrides of the spec's GraphQL options that wait for a
// service or method not registered yet, sorted ("override of method pkg.Service/Method: no
// registered service has that method"). Each applies once what it names is registered; one whose
// name is misspelt never will, which is why the gateway reports them.
func (s *Snapshot) WaitingGraphQL() []string { return s.gqlWaiting }

// WaitingRules describes the policy rules of the spec whose match names a service that no
// registration has and no route proxies, in file order ("gw.yaml:12:16:
// policies.rules[1].match.service: service acme.v1.Legacy is not registered"). Each applies once a
// registration brings the service; one whose name is misspelt never will.
func (s *Snapshot) WaitingRules() []string { return s.rulesWaiting }

// UnmatchedRules describes the policy rules of the spec that apply to no call, in file order: their
// match names a method that its registered service lacks ("the registered service
// shop.users.v1.UserService has no method GetUsr"), or a service the gateway answers itself.
func (s *Snapshot) UnmatchedRules() []string { return s.rulesUnmatched }

// ShadowedRoutes describes the routes of the spec that never win, in file order: an earlier route of
// the same match, whose header conditions are all among theirs, takes every call they match.
func (s *Snapshot) ShadowedRoutes() []string { return s.shadowedRoutes }

// Admitter is the snapshot's compiled policy chains; see routing.State. Nil admits every call.
func (s *Snapshot) Admitter() routing.Admitter { return s.admitter }

// Files resolves the descriptors of every registered service; see routing.Catalog.
func (s *Snapshot) Files() *protoregistry.Files { return s.files }

// Types resolves message and extension types of the registered descriptors; see routing.Catalog.
func (s *Snapshot) Types() routing.ExtensionTypes { return s.types }

// Services lists the fully qualified names of the registered services, sorted.
func (s *Snapshot) Services() []string { return s.services }

// Cluster returns a cluster by name.
func (s *Snapshot) Cluster(name string) (*routing.Cluster, bool) {
	c, ok := s.clusters[name]
	return c, ok
}

// Registrations lists the registrations the snapshot serves, by name.
func (s *Snapshot) Registrations() []*Registration { return s.regs }

func (s *Snapshot) serviceStatus(name string) *adminv1.ServiceStatus {
	if st, ok := s.svcInfo[name]; ok {
		return st
	}
	return &adminv1.ServiceStatus{Name: name}
}

// serviceOf returns "pkg.Service" of "/pkg.Service/Method" without allocating.
func serviceOf(fullMethod string) string {
	s := strings.TrimPrefix(fullMethod, "/")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i]
	}
	return s
}
