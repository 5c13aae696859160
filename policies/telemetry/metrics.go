package telemetry

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"

	"github.com/protogate/gateway/routing"
)

// latencyBuckets cover a gateway's calls, from a cached answer to a slow backend (seconds).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// metrics are the gateway's Prometheus metrics, on a registry of their own.
type metrics struct {
	registry *prometheus.Registry
	handler  http.Handler

	requests *prometheus.CounterVec   // front, method, code
	errors   *prometheus.CounterVec   // front, method, code
	latency  *prometheus.HistogramVec // front, method, code
	upstream *prometheus.HistogramVec // endpoint, code
	denials  *prometheus.CounterVec   // front, policy, reason
	closed   *prometheus.CounterVec   // reason

	// The series of the vectors above, looked up once: a vector's lookup hashes the labels and
	// takes a lock, per call and per vector.
	series    cowCache[seriesKey, *series]
	upstreams cowCache[upstreamKey, prometheus.Observer]
}

func newMetrics(endpoints func() []routing.EndpointStats, snapshot func() (uint64, int)) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_requests_total",
			Help: "Calls served, by front, method (\"unknown\" for calls of no known method) and gRPC status code. GraphQL counts each method a field resolves through.",
		}, []string{"front", "method", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_request_errors_total",
			Help: "Calls served with a status other than OK, by front, method and gRPC status code.",
		}, []string{"front", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_request_duration_seconds",
			Help:    "Time from a call's arrival to its last byte, by front, method and gRPC status code.",
			Buckets: latencyBuckets,
		}, []string{"front", "method", "code"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_upstream_duration_seconds",
			Help:    "Time of each upstream call made for a client (each attempt of a retried one; not the gateway's health checks), by endpoint and gRPC status code.",
			Buckets: latencyBuckets,
		}, []string{"endpoint", "code"}),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_policy_denials_total",
			Help: "Requests refused by a policy (auth, rate_limit, concurrency, waf, limits...), by front, policy and reason.",
		}, []string{"front", "policy", "reason"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_connections_closed_total",
			Help: "Client connections of the data port the gateway closed for what their client did, by reason (premature_resets: the client reset most of its HTTP/2 streams right after opening them).",
		}, []string{"reason"}),
	}
	// Present from the start, at 0, so that a rate over it has a series before the first close.
	m.closed.WithLabelValues(ClosedPrematureResets)
	reg.MustRegister(m.requests, m.errors, m.latency, m.upstream, m.denials, m.closed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if endpoints != nil {
		reg.MustRegister(endpointCollector(endpoints))
	}
	if snapshot != nil {
		reg.MustRegister(snapshotCollector(snapshot))
	}
	m.series.max, m.upstreams.max = maxCachedSeries, maxCachedSeries
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

// observe records one finished call.
func (m *metrics) observe(front, method, code string, d time.Duration) {
	s := m.seriesOf(seriesKey{front, method, code})
	s.requests.Inc()
	s.latency.Observe(d.Seconds())
	if s.errors != nil {
		s.errors.Inc()
	}
}

// maxCachedSeries bounds the series cache; calls beyond it look their series up in the vectors.
const maxCachedSeries = 1 << 14

// seriesKey are the labels of a call's request series.
type seriesKey struct{ front, method, code string }

// series are the request metrics of one front, method and code.
type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
	errors   prometheus.Counter // nil for OK
}

// seriesOf returns k's series, cached (at most fronts x methods x codes of them). Once the cache
// is full, a call of a method it holds no series of is counted under unknownMethod: the vectors
// never grow past the cache's bound, whatever names reach them.
func (m *metrics) seriesOf(k seriesKey) *series {
	if s, ok := m.series.lookup(k); ok {
		return s
	}
	if m.series.full() {
		k.method = unknownMethod
	}
	return m.series.get(k, m.newSeries)
}

// newSeries looks k's series up in the vectors.
func (m *metrics) newSeries(k seriesKey) *series {
	s := &series{
		requests: m.requests.WithLabelValues(k.front, k.method, k.code),
		latency:  m.latency.WithLabelValues(k.front, k.method, k.code),
	}
	if k.code != "OK" {
		s.errors = m.errors.WithLabelValues(k.front, k.method, k.code)
	}
	return s
}

// upstreamKey are the labels of an upstream call's latency series.
type upstreamKey struct {
	endpoint string
	code     codes.Code
}

// upstreamOf returns the upstream latency series of endpoint and code, cached.
func (m *metrics) upstreamOf(endpoint string, code codes.Code) prometheus.Observer {
	return m.upstreams.get(upstreamKey{endpoint, code}, m.newUpstream)
}

func (m *metrics) newUpstream(k upstreamKey) prometheus.Observer {
	return m.upstream.WithLabelValues(k.endpoint, codeName(k.code))
}

var (
	// The endpoint state metrics are labelled by address, transport and settings: one address
	// reached over two transports (plaintext and TLS, say), or by clusters whose breaker, health
	// check or outlier settings differ, is two endpoints.
	breakerDesc = prometheus.NewDesc("gateway_endpoint_circuit_state",
		"1 for the state each upstream endpoint's circuit breaker is in (closed, open, half-open, disabled), 0 for the others.",
		[]string{"endpoint", "transport", "settings", "state"}, nil)
	connectionDesc = prometheus.NewDesc("gateway_endpoint_connection_state",
		"1 for the state the gateway's connection to each upstream endpoint is in (IDLE, CONNECTING, READY, TRANSIENT_FAILURE: the balancers pass over it), 0 for the others.",
		[]string{"endpoint", "transport", "settings", "state"}, nil)
	ejectedDesc = prometheus.NewDesc("gateway_endpoint_ejected",
		"1 while outlier detection has ejected the upstream endpoint.", endpointLabels, nil)
	ejectionsDesc = prometheus.NewDesc("gateway_endpoint_ejections_total",
		"Ejections of the upstream endpoint by outlier detection since it joined the pool.", endpointLabels, nil)
	healthyDesc = prometheus.NewDesc("gateway_endpoint_healthy",
		"1 while the upstream endpoint passes its active health checks (always 1 without checks).", endpointLabels, nil)
	inFlightDesc = prometheus.NewDesc("gateway_endpoint_in_flight",
		"Calls in flight on the upstream endpoint.", endpointLabels, nil)
	snapshotDesc = prometheus.NewDesc("gateway_snapshot_version",
		"Version of the serving snapshot: it grows with every applied configuration or registration change.", nil, nil)
	registrationsDesc = prometheus.NewDesc("gateway_registrations",
		"Active service registrations in the serving snapshot.", nil, nil)
)

// endpointLabels identify an endpoint of the pool, as routing.EndpointStats does.
var endpointLabels = []string{"endpoint", "transport", "settings"}

// breakerStates are the values of routing.EndpointStats.Breaker.
var breakerStates = []string{"closed", "open", "half-open", "disabled"}

// connectionStates are the values of routing.EndpointStats.Connection.
var connectionStates = []string{"IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE"}

// funcCollector collects metrics computed at scrape time.
type funcCollector struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c funcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c funcCollector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// endpointCollector reports the endpoints' resilience state, read from the pool at each scrape.
func endpointCollector(stats func() []routing.EndpointStats) prometheus.Collector {
	return funcCollector{
		descs: []*prometheus.Desc{breakerDesc, connectionDesc, ejectedDesc, ejectionsDesc, healthyDesc, inFlightDesc},
		collect: func(ch chan<- prometheus.Metric) {
			for _, s := range stats() {
				for _, state := range breakerStates {
					ch <- prometheus.MustNewConstMetric(breakerDesc, prometheus.GaugeValue, boolValue(strings.EqualFold(s.Breaker, state)), s.Address, s.Transport, s.Settings, state)
				}
				for _, state := range connectionStates {
					ch <- prometheus.MustNewConstMetric(connectionDesc, prometheus.GaugeValue, boolValue(s.Connection == state), s.Address, s.Transport, s.Settings, state)
				}
				ch <- prometheus.MustNewConstMetric(ejectedDesc, prometheus.GaugeValue, boolValue(s.Ejected), s.Address, s.Transport, s.Settings)
				ch <- prometheus.MustNewConstMetric(ejectionsDesc, prometheus.CounterValue, float64(s.Ejections), s.Address, s.Transport, s.Settings)
				ch <- prometheus.MustNewConstMetric(healthyDesc, prometheus.GaugeValue, boolValue(s.Healthy), s.Address, s.Transport, s.Settings)
				ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(s.InFlight), s.Address, s.Transport, s.Settings)
			}
		},
	}
}

// snapshotCollector reports the serving snapshot's version and registration count.
func snapshotCollector(snapshot func() (uint64, int)) prometheus.Collector {
	return funcCollector{
		descs: []*prometheus.Desc{snapshotDesc, registrationsDesc},
		collect: func(ch chan<- prometheus.Metric) {
			version, regs := snapshot()
			ch <- prometheus.MustNewConstMetric(snapshotDesc, prometheus.GaugeValue, float64(version))
			ch <- prometheus.MustNewConstMetric(registrationsDesc, prometheus.GaugeValue, float64(regs))
		},
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
