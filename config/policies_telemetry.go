package config

import (
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tracing configures OpenTelemetry tracing. When it is on, every front extracts the W3C trace context
// (traceparent, tracestate, baggage) of the requests it serves, makes a server span per request and a
// client span per upstream call, and sends the upstream the gateway's span as the parent.
type Tracing struct {
	// Enabled turns tracing on. Default false; setting an Exporter other than "none" implies it.
	// With tracing on and no exporter, spans still give access-log lines their trace id and
	// upstreams a parent, but go nowhere.
	Enabled bool `yaml:"enabled"`
	// Exporter is where finished spans go: "none", "otlp_grpc" or "otlp_http". Default "none".
	Exporter string `yaml:"exporter"`
	// Endpoint is the OTLP receiver: "host:port" for otlp_grpc (default "localhost:4317"), a
	// "host:port" or an http(s) URL for otlp_http (default "localhost:4318", path /v1/traces).
	Endpoint string `yaml:"endpoint"`
	// Insecure sends spans without TLS.
	Insecure bool `yaml:"insecure"`
	// Headers are sent with every export request (an API key for a hosted collector, say).
	Headers []TracingHeader `yaml:"headers"`
	// SampleRatio is the share of new traces sampled, a number in 0..1 written as 0.1, "0.1" or
	// "10%". Requests that arrive with a trace context follow their parent's decision. Default 1.
	SampleRatio string `yaml:"sample_ratio"`
	// ServiceName is the service.name of the gateway's spans. Default DefaultTracingServiceName.
	ServiceName string `yaml:"service_name"`
}

// TracingHeader is one header of the OTLP export requests.
type TracingHeader struct {
	// Name is the header's name.
	Name string `yaml:"name"`
	// Value is its value.
	Value string `yaml:"value"`
}

// Metrics configures the Prometheus metrics served on the admin port.
type Metrics struct {
	// Disabled turns the metrics off. Default: on.
	Disabled bool `yaml:"disabled"`
	// Path is where the admin port serves them. Default DefaultMetricsPath.
	Path string `yaml:"path"`
}

// AccessLog configures the access log: one JSON line per request, whichever front it came through.
type AccessLog struct {
	// Output is where lines go: "stdout", "stderr", "off", or a file path (appended to; relative
	// to the config file's directory). Default "off".
	Output string `yaml:"output"`
	// Headers are request headers (gRPC metadata) added to each line under "header.<name>", such as
	// x-request-id. Headers that carry credentials, with or without a Grpc-Metadata- prefix, are
	// refused: secrets are never logged. IsSecretHeader says which: names with auth, token,
	// secret, cookie, session, a word key... in them, and the header API keys are read from.
	Headers []string `yaml:"headers"`
	// FlushInterval is how long a line may wait in memory before it is written: lines are written
	// together, at this interval or as soon as 64 KiB wait, rather than with one write per request.
	// Default (and 0) 1s; a negative value (-1s) writes every line as it is logged. Lines still waiting
	// when the gateway stops are written then.
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// DefaultAccessLogFlushInterval is access_log.flush_interval's default.
const DefaultAccessLogFlushInterval = time.Second

// Flush returns how often buffered lines are written: FlushInterval, or its default when unset;
// 0 when lines are written as they are logged.
func (a AccessLog) Flush() time.Duration {
	switch {
	case a.FlushInterval < 0:
		return 0
	case a.FlushInterval == 0:
		return DefaultAccessLogFlushInterval
	}
	return a.FlushInterval
}

// Tracing exporters, access-log outputs and telemetry defaults.
const (
	TracingExporterNone       = "none"
	TracingExporterOTLPGRPC   = "otlp_grpc"
	TracingExporterOTLPHTTP   = "otlp_http"
	DefaultTracingServiceName = "protogate"
	DefaultMetricsPath        = "/metrics"
	AccessLogStdout           = "stdout"
	AccessLogStderr           = "stderr"
	AccessLogOff              = "off"
)

// TracingExporters are the values of tracing.exporter.
var TracingExporters = []string{TracingExporterNone, TracingExporterOTLPGRPC, TracingExporterOTLPHTTP}

// Ratio returns the parsed SampleRatio: 1 when it is unset or invalid (validation refuses invalid ones).
func (t Tracing) Ratio() float64 {
	r, ok := parseRatio(t.SampleRatio)
	if !ok || t.SampleRatio == "" {
		return 1
	}
	return r
}

// parseRatio parses "0.25", "25%", "1" or "0" into 0..1.
func parseRatio(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	scale := 1.0
	if rest, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = strings.TrimSpace(rest), 100
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f || f < 0 || f/scale > 1 {
		return 0, false
	}
	return f / scale, true
}

// IsSecretHeader reports whether the header name (any case) carries credentials, which the access
// log refuses to record, and never records whatever it is told. Credential headers are too many to
// list (every API and gateway names its own), so they are told by their names: a header carries
// credentials when its name contains one of secretHeaderParts or has the word "key" (x-api-key,
// ocp-apim-subscription-key, though idempotency-key too), or when it is one of extra (the header
// policies.auth.api_keys reads keys from), alone or behind a Grpc-Metadata- prefix, which the REST
// front passes on as the metadata the rest names (and authentication reads as that credential).
func IsSecretHeader(name string, extra ...string) bool {
	name = strings.ToLower(name)
	if slices.ContainsFunc(secretHeaderParts, func(part string) bool { return strings.Contains(name, part) }) ||
		slices.Contains(strings.FieldsFunc(name, isHeaderWordSeparator), "key") {
		return true
	}
	for {
		if slices.ContainsFunc(extra, func(e string) bool { return strings.EqualFold(e, name) }) {
			return true
		}
		rest, ok := strings.CutPrefix(name, grpcMetadataPrefix)
		if !ok {
			return false
		}
		name = rest
	}
}

// secretHeaderParts are the parts of header names that say a header carries credentials:
// authorization, proxy-authorization, x-auth-token, oauth...; x-refresh-token, x-id-token,
// private-token...; x-client-secret; password, passwd; cookie, set-cookie; x-session-id;
// x-credential; apikey; x-jwt; x-amz-signature. Ordinary headers (x-request-id, user-agent,
// x-forwarded-for, traceparent, x-tenant-id) have none of them.
var secretHeaderParts = []string{"auth", "token", "secret", "passw", "cookie", "session", "credential",
	"apikey", "jwt", "signature"}

// isHeaderWordSeparator reports whether r separates the words of a header name.
func isHeaderWordSeparator(r rune) bool { return r == '-' || r == '_' || r == '.' }

// grpcMetadataPrefix is the prefix of the REST request headers that pass on as gRPC metadata.
const grpcMetadataPrefix = "grpc-metadata-"

// accessLogFile reports whether output names a file rather than a stream or "off".
func accessLogFile(output string) bool {
	switch output {
	case "", AccessLogStdout, AccessLogStderr, AccessLogOff:
		return false
	}
	return true
}

func (v *validator) tracing(path string, t Tracing) {
	if t.Exporter != "" && !oneOf(t.Exporter, TracingExporters) {
		v.fieldf(field(path, "exporter"), "unknown exporter %q: want one of %s", t.Exporter, strings.Join(TracingExporters, ", "))
	}
	exporting := t.Exporter == TracingExporterOTLPGRPC || t.Exporter == TracingExporterOTLPHTTP
	if exporting && !t.Enabled && v.has(field(path, "enabled")) {
		v.fieldf(field(path, "enabled"), "false contradicts exporter %s: remove one of them", t.Exporter)
	}
	switch {
	case t.Endpoint == "" && v.has(field(path, "endpoint")):
		v.fieldf(field(path, "endpoint"), "must not be empty")
	case t.Endpoint == "":
	case !exporting:
		v.fieldf(field(path, "endpoint"), "needs exporter otlp_grpc or otlp_http")
	case t.Exporter == TracingExporterOTLPHTTP && strings.Contains(t.Endpoint, "://"):
		u, err := url.Parse(t.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.fieldf(field(path, "endpoint"), "invalid URL %q: want http(s)://host:port[/path] or host:port", t.Endpoint)
		}
	default:
		v.address(field(path, "endpoint"), t.Endpoint, false)
	}
	if (t.Insecure || len(t.Headers) > 0) && !exporting {
		key := "insecure"
		if !t.Insecure {
			key = "headers"
		}
		v.fieldf(field(path, key), "needs exporter otlp_grpc or otlp_http")
	}
	for i, h := range t.Headers {
		hp := index(field(path, "headers"), i)
		switch {
		case h.Name == "":
			v.fieldf(field(hp, "name"), "required")
		case !validHeaderName(h.Name):
			v.fieldf(field(hp, "name"), "invalid header name %q", h.Name)
		}
		if strings.ContainsAny(h.Value, "\r\n\x00") {
			v.fieldf(field(hp, "value"), "must not contain CR, LF or NUL")
		}
	}
	// Settings that would do nothing are refused, as the exporter's are without one: the ratio
	// samples only while tracing is on, and the service name only names exported spans.
	if rp := field(path, "sample_ratio"); t.SampleRatio != "" || v.has(rp) {
		if _, ok := parseRatio(t.SampleRatio); !ok {
			v.fieldf(rp, "want a ratio in 0..1 such as 0.1 or \"10%%\", got %q", t.SampleRatio)
		} else if !t.Enabled && !exporting {
			v.fieldf(rp, "needs tracing on: set enabled: true or an exporter")
		}
	}
	switch sp := field(path, "service_name"); {
	case t.ServiceName == "" && v.has(sp):
		v.fieldf(sp, "must not be empty")
	case t.ServiceName != "" && !exporting:
		v.fieldf(sp, "needs exporter otlp_grpc or otlp_http: it names the exported spans")
	}
}

// metrics checks the metrics section: a path needs them on.
func (v *validator) metrics(path string, m Metrics) {
	p := field(path, "path")
	switch {
	case m.Path == "" && v.has(p):
		v.fieldf(p, "must not be empty")
	case m.Path == "":
	case m.Disabled:
		v.fieldf(p, "needs metrics on: they are disabled")
	case !strings.HasPrefix(m.Path, "/"):
		v.fieldf(p, "invalid path %q: want an absolute path such as /metrics", m.Path)
	case oneOf(m.Path, []string{"/healthz", "/readyz"}) || strings.HasPrefix(m.Path, "/v1/"):
		v.fieldf(p, "%s clashes with the admin port's own endpoints (/healthz, /readyz, /v1/)", m.Path)
	case strings.ContainsAny(m.Path, " ?#{}"):
		v.fieldf(p, "invalid path %q: no spaces, query, fragment or wildcards", m.Path)
	}
}

// accessLog checks the access log's settings; apiKeyHeader is the header API keys are read from,
// which it must not log.
func (v *validator) accessLog(path string, a AccessLog, apiKeyHeader string) {
	out := field(path, "output")
	switch {
	case a.Output == "" && v.has(out):
		v.fieldf(out, "must not be empty: use \"off\"")
	case accessLogFile(a.Output):
		dir := filepath.Dir(a.Output)
		if info, err := os.Stat(dir); err != nil {
			v.fieldf(out, "cannot write %q: its directory: %v", a.Output, unwrapPath(err))
		} else if !info.IsDir() {
			v.fieldf(out, "cannot write %q: %s is not a directory", a.Output, dir)
		} else if info, err := os.Stat(a.Output); err == nil && info.IsDir() {
			v.fieldf(out, "%q is a directory, want a file", a.Output)
		}
	}
	seen := map[string]bool{}
	for i, h := range a.Headers {
		hp := index(field(path, "headers"), i)
		lower := strings.ToLower(h)
		switch {
		case h == "":
			v.fieldf(hp, "must not be empty")
		case !validHeaderName(h):
			v.fieldf(hp, "invalid header name %q", h)
		case IsSecretHeader(h, apiKeyHeader):
			v.fieldf(hp, "%s carries credentials: secrets are never logged", lower)
		case seen[lower]:
			v.fieldf(hp, "duplicate header %q", lower)
		}
		seen[lower] = true
	}
	// Settings that would do nothing are refused, as the tracing exporter's are without one.
	if a.Output == AccessLogOff || a.Output == "" && !v.has(out) {
		if len(a.Headers) > 0 {
			v.fieldf(field(path, "headers"), "needs an output, stdout, stderr or a file: the access log is off")
		}
		if fp := field(path, "flush_interval"); v.has(fp) {
			v.fieldf(fp, "needs an output, stdout, stderr or a file: the access log is off")
		}
	}
}

func (t *Tracing) complete() {
	setDefault(&t.Exporter, TracingExporterNone)
	if t.Exporter != TracingExporterNone {
		t.Enabled = true
	}
	switch t.Exporter {
	case TracingExporterOTLPGRPC:
		setDefault(&t.Endpoint, "localhost:4317")
	case TracingExporterOTLPHTTP:
		setDefault(&t.Endpoint, "localhost:4318")
	}
	setDefault(&t.SampleRatio, "1")
	setDefault(&t.ServiceName, DefaultTracingServiceName)
}

func (m *Metrics) complete() { setDefault(&m.Path, DefaultMetricsPath) }

func (a *AccessLog) complete() {
	setDefault(&a.Output, AccessLogOff)
	for i, h := range a.Headers {
		a.Headers[i] = strings.ToLower(h)
	}
}

func (a *AccessLog) resolvePaths(resolve func(*string)) {
	if accessLogFile(a.Output) {
		resolve(&a.Output)
	}
}

// telemetrySummary prints the telemetry settings that differ from the defaults.
func (p Policies) telemetrySummary(s *summary) {
	var def Policies
	def.Tracing.complete()
	def.Metrics.complete()
	def.AccessLog.complete()
	t, m, a := p.Tracing, p.Metrics, p.AccessLog
	if reflect.DeepEqual(t, def.Tracing) && m == def.Metrics && reflect.DeepEqual(a, def.AccessLog) {
		return
	}
	s.WriteByte('\n')
	if t.Enabled {
		line := "tracing exporter " + t.Exporter
		if t.Endpoint != "" {
			line += ", endpoint " + printable(t.Endpoint)
		}
		if t.Insecure {
			line += ", insecure"
		}
		if len(t.Headers) > 0 {
			names := make([]string, len(t.Headers))
			for i, h := range t.Headers {
				names[i] = h.Name // values may be credentials: never printed
			}
			line += ", headers " + strings.Join(names, ",")
		}
		s.line(0, "%s, sample_ratio %s, service_name %s", line, printable(t.SampleRatio), printable(t.ServiceName))
	} else {
		s.line(0, "tracing off")
	}
	if m.Disabled {
		s.line(0, "metrics off")
	} else {
		s.line(0, "metrics path %s", printable(m.Path))
	}
	line := "access_log output " + printable(a.Output)
	if len(a.Headers) > 0 {
		line += ", headers " + strings.Join(a.Headers, ",")
	}
	if a.FlushInterval != 0 && a.Output != AccessLogOff {
		if every := a.Flush(); every > 0 {
			line += ", flush_interval " + every.String()
		} else {
			line += ", unbuffered"
		}
	}
	s.line(0, "%s", line)
}
