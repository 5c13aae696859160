package config

import "time"

// Config is a decoded, validated gateway configuration file.
//
// The zero value is not ready to use; start from Default or Parse. Parse
// resolves relative paths against the directory of the configuration file
// and fills the defaults documented on each field.
type Config struct {
	// Listen is the data port's "host:port". Default DefaultListen.
	// An empty host listens on every interface.
	Listen string `yaml:"listen"`
	// AdminListen is the admin port's "host:port" (health, readiness,
	// metrics, admin API). Default DefaultAdminListen. Must differ from
	// Listen.
	AdminListen string `yaml:"admin_listen"`
	// DataDir is where the service registry persists registrations.
	// Default "": the registry lives in memory and nothing is persisted.
	DataDir string `yaml:"data_dir"`
	// KeepVersions is how many versions of each registration the registry
	// keeps, newest first, in the data dir and in memory; the active
	// version is kept too, however old. Older ones are deleted, and can no
	// longer be rolled back to. Default DefaultKeepVersions (0 in the file
	// means the default).
	KeepVersions int `yaml:"keep_versions"`
	// ShutdownGrace bounds how long in-flight calls may drain after
	// SIGTERM. Default DefaultShutdownGrace.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// TLS makes the data port serve TLS. Default: plaintext.
	TLS ServerTLS `yaml:"tls"`
	// GRPC holds protocol limits.
	GRPC GRPC `yaml:"grpc"`
	// Clusters are the upstream groups that routes and services point at,
	// in file order, followed by the clusters that services with inline
	// endpoints imply.
	Clusters []Cluster `yaml:"clusters"`
	// Routes send calls to clusters, in file order.
	Routes []Route `yaml:"routes"`
	// Services are static registrations: the same thing the admin API
	// registers at run time.
	Services []Service `yaml:"services"`
	// REST configures the REST front.
	REST REST `yaml:"rest"`
	// Policies are enforced on every front alike: auth, limits, WAF, CORS,
	// telemetry.
	Policies Policies `yaml:"policies"`
	// GraphQL configures the GraphQL front and its schema: limits,
	// introspection, the query page, persisted operations, links,
	// overrides, prefixes.
	GraphQL GraphQL `yaml:"graphql"`
}

// ServerTLS configures TLS on the data port. The port serves TLS, with
// ALPN h2 and http/1.1, when CertFile and KeyFile are set at start. Every
// reload reads the files again: new connections get what they hold.
type ServerTLS struct {
	// CertFile is the PEM certificate chain. Set together with KeyFile.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key. Set together with CertFile.
	KeyFile string `yaml:"key_file"`
	// ClientCAFile, when set, makes the port request client certificates
	// and verify them against these PEM roots (mTLS).
	ClientCAFile string `yaml:"client_ca_file"`
}

// Enabled reports whether the data port serves TLS.
func (t ServerTLS) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// GRPC holds gRPC protocol limits.
type GRPC struct {
	// MaxMessageBytes caps a message's size in both directions.
	// Default DefaultMaxMessageBytes. Written as a number of bytes or as a
	// string such as "4MiB" or "10MB".
	MaxMessageBytes ByteSize `yaml:"max_message_bytes"`
}

// Cluster is a named group of upstream endpoints.
type Cluster struct {
	// Name identifies the cluster: required, unique, [a-z0-9][a-z0-9_.-]*.
	Name string `yaml:"name"`
	// Endpoints are the backends; at least one. Each is written either as
	// a "host:port" string or as {address: host:port, weight: N}.
	Endpoints []Endpoint `yaml:"endpoints"`
	// TLS configures connections to the endpoints. Default: plaintext.
	TLS ClusterTLS `yaml:"tls"`
	// ConnectTimeout bounds dialing an endpoint. Default
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// LB is the balancer: round_robin, least_request (power of two
	// choices on calls in flight), ring_hash (affinity on HashKey) or
	// random. Default round_robin.
	LB string `yaml:"lb"`
	// HashKey is the header (gRPC metadata) ring_hash hashes; required
	// with ring_hash. Parse lower-cases it.
	HashKey string `yaml:"hash_key"`
	// MaxRequests caps the cluster's calls in flight; more fail at once
	// with UNAVAILABLE. Default 0: no cap.
	MaxRequests int `yaml:"max_requests"`
	// DNSRefresh, when set, resolves endpoints given as host names (A and
	// AAAA) into one endpoint per address, and again every DNSRefresh:
	// addresses that appear join, those that disappear drain. Default 0:
	// a name is one endpoint, resolved by the dialer on each connect.
	DNSRefresh time.Duration `yaml:"dns_refresh"`
	// HealthCheck runs grpc.health.v1 (or HTTP) checks. Default: off.
	HealthCheck HealthCheck `yaml:"health_check"`
	// CircuitBreaker fails calls fast on an endpoint that keeps failing.
	// Default: on, with the defaults documented on its fields.
	CircuitBreaker CircuitBreaker `yaml:"circuit_breaker"`
	// OutlierDetection ejects endpoints whose calls keep failing.
	// Default: on, with the defaults documented on its fields.
	OutlierDetection OutlierDetection `yaml:"outlier_detection"`
	// RetryBudget caps retries of calls to the cluster.
	RetryBudget RetryBudget `yaml:"retry_budget"`
}

// HealthCheck configures active grpc.health.v1 (or HTTP) checks of a
// cluster's endpoints. Checks run only when Interval is set.
type HealthCheck struct {
	// Interval between checks of each endpoint.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one check. Default 1s, at most Interval.
	Timeout time.Duration `yaml:"timeout"`
	// HealthyThreshold passing checks in a row bring an endpoint back.
	// Default 1.
	HealthyThreshold int `yaml:"healthy_threshold"`
	// UnhealthyThreshold failing checks in a row take it out. Default 2.
	UnhealthyThreshold int `yaml:"unhealthy_threshold"`
	// Service is the service name checked. Default "": the server.
	Service string `yaml:"service"`
	// HTTPPath, when set, checks with an HTTP GET of this path on the
	// endpoint's address instead of grpc.health.v1, for upstreams that
	// are not gRPC servers: any 2xx status is healthy.
	HTTPPath string `yaml:"http_path"`
}

// CircuitBreaker configures the per-endpoint circuit breakers. Only
// sick-backend outcomes count: UNAVAILABLE, RESOURCE_EXHAUSTED,
// DEADLINE_EXCEEDED not caused by the caller's deadline, connection
// errors.
type CircuitBreaker struct {
	// Disabled turns the breakers off.
	Disabled bool `yaml:"disabled"`
	// ConsecutiveFailures in a row open the circuit. Default 5.
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// OpenTimeout is how long an open circuit fails fast before letting
	// probes through. Default 10s.
	OpenTimeout time.Duration `yaml:"open_timeout"`
	// HalfOpenRequests is the number of probes. Default 1.
	HalfOpenRequests int `yaml:"half_open_requests"`
}

// OutlierDetection configures passive outlier detection.
type OutlierDetection struct {
	// Disabled turns ejection off.
	Disabled bool `yaml:"disabled"`
	// ConsecutiveFailures in a row eject an endpoint. Default 5.
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// BaseEjectionTime is the first ejection's length; the n-th lasts n
	// times as long. Default 30s.
	BaseEjectionTime time.Duration `yaml:"base_ejection_time"`
	// MaxEjectionTime caps an ejection. Default 300s.
	MaxEjectionTime time.Duration `yaml:"max_ejection_time"`
	// MaxEjectedPercent caps the share of endpoints ejected at once (one
	// may always be). Default 50.
	MaxEjectedPercent int `yaml:"max_ejected_percent"`
	// PanicThreshold: below this percentage of healthy endpoints, calls
	// go to all endpoints regardless of health; 0 never does. Default
	// (nil) 50: a pointer, so that a written 0 is told from a key left out.
	PanicThreshold *int `yaml:"panic_threshold"`
}

// RetryBudget caps retries as a share of calls over a 10s window. A retry of
// a call that never reached a backend (connection refused, circuit open) is
// not counted: it adds no load to any backend.
type RetryBudget struct {
	// Percent of calls that may be retried. Default 20.
	Percent int `yaml:"percent"`
	// MinRetries are allowed per window regardless. Default 3.
	MinRetries int `yaml:"min_retries"`
}

// Retry is a route's retry policy for unary calls. A call is retried on
// another endpoint only when safe: the method is idempotent
// (idempotency_level) or the request never reached a backend.
type Retry struct {
	// Attempts is the most attempts, the first included, 1..10.
	// Default 2; 1 disables retries.
	Attempts int `yaml:"attempts"`
	// PerTryTimeout bounds each attempt. Default: none.
	PerTryTimeout time.Duration `yaml:"per_try_timeout"`
	// RetryOn are the retryable status codes, by their canonical names
	// (UNAVAILABLE, RESOURCE_EXHAUSTED...). Default [UNAVAILABLE].
	RetryOn []string `yaml:"retry_on"`
	// Backoff bounds the jittered wait before each retry.
	Backoff Backoff `yaml:"backoff"`
}

// Backoff is an exponential backoff with jitter.
type Backoff struct {
	// Base is the first retry's wait. Default 25ms.
	Base time.Duration `yaml:"base"`
	// Max caps the wait. Default 250ms.
	Max time.Duration `yaml:"max"`
}

// Balancers are the values of Cluster.LB.
var Balancers = []string{"round_robin", "least_request", "ring_hash", "random"}

// statusCodes are the canonical gRPC status code names, indexed by code.
var statusCodes = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

// StatusCode returns the gRPC status code with the canonical name name
// ("UNAVAILABLE" -> 14).
func StatusCode(name string) (uint32, bool) {
	for i, n := range statusCodes {
		if n == name {
			return uint32(i), true
		}
	}
	return 0, false
}

// Endpoint is one backend of a cluster.
type Endpoint struct {
	// Address is "host:port"; the host is a name, an IPv4 address or a
	// bracketed IPv6 address.
	Address string `yaml:"address"`
	// Weight is the endpoint's share of the cluster's traffic, 1..10000.
	// Default DefaultEndpointWeight.
	Weight int `yaml:"weight"`
}

// setScalar accepts the "host:port" shorthand.
func (e *Endpoint) setScalar(address string) { e.Address = address }

// ClusterTLS configures TLS towards a cluster's endpoints: TLS 1.2 or
// later, ALPN h2. Its files are read when the configuration is loaded
// (validated, and again when a snapshot is built from it), not when a
// connection is made: a reload picks up renewed files.
type ClusterTLS struct {
	// Enabled turns TLS on; the other fields need it.
	Enabled bool `yaml:"enabled"`
	// CAFile holds the PEM roots that verify the endpoints. Default: the
	// system roots.
	CAFile string `yaml:"ca_file"`
	// ServerName overrides the name verified in the endpoints'
	// certificates (and sent in SNI). Default: the endpoint's host; with
	// dns_refresh, the name the endpoint's address was resolved from.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables certificate verification. For tests:
	// the gateway logs a warning when it loads a configuration that sets
	// it.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// CertFile and KeyFile are the PEM client certificate and its key,
	// presented to endpoints that ask for one (mTLS). Set both or
	// neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Route sends the calls that Match selects to a cluster, or splits them
// by weight across several.
//
// Routes are evaluated by specificity (an exact method beats a prefix)
// and in file order within a tie.
type Route struct {
	// Name identifies the route in logs and metrics: unique when set,
	// [a-z0-9][a-z0-9_.-]*. Default "route-<index>", the index counting
	// from 0 in file order.
	Name string `yaml:"name"`
	// Where locates the route in its file, "file:line:col: routes[i]", for
	// problems found after parsing (an earlier route wins every call it
	// matches); set by Parse.
	Where string `yaml:"-"`
	// Match selects the calls.
	Match Match `yaml:"match"`
	// Cluster is the single target. Set either Cluster or Clusters.
	Cluster string `yaml:"cluster"`
	// Clusters split calls by weight. Set either Cluster or Clusters.
	Clusters []WeightedCluster `yaml:"clusters"`
	// Timeout, when set, is the upstream deadline for matching calls.
	// Default 0: the caller's deadline alone applies.
	Timeout time.Duration `yaml:"timeout"`
	// Retry is the retry policy of unary calls. Default: one retry of
	// UNAVAILABLE, when safe, within the cluster's retry budget (which a
	// call that never reached a backend does not draw on).
	Retry Retry `yaml:"retry"`
}

// Targets returns the clusters the route sends calls to: Clusters, or
// Cluster with weight 1.
func (r Route) Targets() []WeightedCluster {
	if r.Cluster != "" {
		return []WeightedCluster{{Name: r.Cluster, Weight: 1}}
	}
	return r.Clusters
}

// Match selects calls by method name and, optionally, headers. Exactly
// one of Service, Method and Prefix is set.
type Match struct {
	// Service matches every method of a fully qualified service,
	// "pkg.Service".
	Service string `yaml:"service"`
	// Method matches one method. Written "pkg.Service/Method" with or
	// without a leading "/"; Parse stores the full method name with the
	// leading "/", as gRPC reports it and as Prefix sees it.
	Method string `yaml:"method"`
	// Prefix matches full method names, "/pkg.Service/Method", that start
	// with it. "/" matches every call.
	Prefix string `yaml:"prefix"`
	// Headers must all match as well.
	Headers []HeaderMatch `yaml:"headers"`
}

// HeaderMatch tests one request header (gRPC metadata). Exactly one of
// Exact, Prefix, Regex and Present is set.
type HeaderMatch struct {
	// Name is the header name; Parse lower-cases it.
	Name string `yaml:"name"`
	// Exact matches a value equal to it. To match an empty value use
	// Regex "^$".
	Exact string `yaml:"exact"`
	// Prefix matches a value that starts with it.
	Prefix string `yaml:"prefix"`
	// Regex matches a value that the RE2 expression matches anywhere
	// (anchor it with ^ and $ to match the whole value).
	Regex string `yaml:"regex"`
	// Present matches when the header is sent, whatever its value.
	Present bool `yaml:"present"`
	// Invert negates the match.
	Invert bool `yaml:"invert"`
}

// WeightedCluster is one target of a weighted route.
type WeightedCluster struct {
	// Name is the cluster's name.
	Name string `yaml:"name"`
	// Weight is the target's share of calls, 1..10000. Required.
	Weight int `yaml:"weight"`
}

// Service is a static registration of a protobuf service.
//
// Its descriptors come from exactly one source: DescriptorSet, Protos
// (with ImportPaths), or Reflect.
type Service struct {
	// Name identifies the registration: required, unique,
	// [a-z0-9][a-z0-9_.-]*.
	Name string `yaml:"name"`
	// Where locates the service in its file, "file:line:col: services[i]", for problems found
	// after parsing (its descriptors do not compile, or clash with another service's); set by
	// Parse.
	Where string `yaml:"-"`
	// ServicesWhere locates each of Services likewise, "file:line:col: services[i].services[j]",
	// for a name its descriptors lack; set by Parse.
	ServicesWhere []string `yaml:"-"`
	// Cluster names the cluster that serves the service. Set either
	// Cluster or Endpoints.
	Cluster string `yaml:"cluster"`
	// Endpoints, written inline, imply a cluster named like the service.
	// Parse moves them into that cluster (appended to Config.Clusters,
	// with the cluster defaults) and sets Cluster to it, so after Parse
	// Endpoints is empty and Cluster always names a cluster.
	Endpoints []Endpoint `yaml:"endpoints"`
	// DescriptorSet is a serialized google.protobuf.FileDescriptorSet.
	DescriptorSet string `yaml:"descriptor_set"`
	// Protos are .proto source files, compiled at registration.
	Protos []string `yaml:"protos"`
	// ImportPaths are the directories that Protos and their imports are
	// found under (protoc's -I). When set, every proto lies under one.
	ImportPaths []string `yaml:"import_paths"`
	// Reflect fetches descriptors from the backend's server reflection:
	// the cluster's first endpoint, reached as its calls are (over TLS
	// when the cluster's tls is enabled).
	Reflect bool `yaml:"reflect"`
	// Services, when set, exposes only these fully qualified services of
	// the descriptors. Default: all of them.
	Services []string `yaml:"services"`
}
