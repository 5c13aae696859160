package config

import (
	"strconv"
	"strings"
)

// Limits bound what a request of the HTTP fronts (REST, GraphQL, gRPC-Web) may carry. A request over a
// limit is refused before any front decodes it: 413 for the body, 431 for the headers, 400 naming the
// problem for the rest. Native gRPC messages are bounded by grpc.max_message_bytes and its header list
// by max_header_bytes.
type Limits struct {
	// MaxBodyBytes bounds a request body. Default 4MiB, the default of grpc.max_message_bytes, so a
	// call has the same ceiling on every front; the REST front's own body limit follows this value.
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	// MaxHeaderCount bounds the number of request header lines (a repeated header counts once per
	// value). Default 100.
	MaxHeaderCount int `yaml:"max_header_count"`
	// MaxHeaderBytes bounds the request headers' total size: names, values and 2 bytes of separator
	// each. Default 64KiB: room for large JWTs and cookies.
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes"`
	// MaxJSONDepth bounds the nesting of objects and arrays in a JSON body. Default 64.
	MaxJSONDepth int `yaml:"max_json_depth"`
	// MaxArrayLength bounds the elements of any one JSON array. Default 10000.
	MaxArrayLength int `yaml:"max_array_length"`
	// MaxStringLength bounds a JSON string (and object key), in bytes as encoded. Default 1MiB.
	MaxStringLength ByteSize `yaml:"max_string_length"`
	// MaxURLBytes bounds the request target: path and query string as sent. Default 8KiB.
	MaxURLBytes ByteSize `yaml:"max_url_bytes"`
}

// Defaults of the limits section.
const (
	DefaultMaxBodyBytes             = DefaultMaxMessageBytes
	DefaultMaxHeaderCount           = 100
	DefaultMaxHeaderBytes  ByteSize = 64 * KiB
	DefaultMaxJSONDepth             = 64
	DefaultMaxArrayLength           = 10000
	DefaultMaxStringLength ByteSize = 1 * MiB
	DefaultMaxURLBytes     ByteSize = 8 * KiB
)

// WAF configures the web application firewall: Coraza running the OWASP Core Rule Set (embedded in the
// binary) on REST and GraphQL requests. A rule's waf key sets the mode per method.
type WAF struct {
	// Mode is the mode of methods no rule sets a waf mode for: "blocking" (403), "detection" (log
	// only) or "off". Default "off". The rule set is loaded when any mode is not off.
	Mode string `yaml:"mode"`
	// ParanoiaLevel is the CRS paranoia level, 1..4: higher levels run more rules and raise more
	// false positives. Default 1.
	ParanoiaLevel int `yaml:"paranoia_level"`
	// InboundAnomalyThreshold is the CRS inbound anomaly score at which a request is blocked (a
	// critical match scores 5, an error 4, a warning 3, a notice 2). Default 5: one critical match.
	InboundAnomalyThreshold int `yaml:"inbound_anomaly_threshold"`
	// ExcludeRules are ids of CRS rules to remove (SecRuleRemoveById), for false positives.
	ExcludeRules []int `yaml:"exclude_rules"`
	// DirectivesFile is a file of extra SecLang directives loaded after the CRS: exclusions by target
	// (SecRuleUpdateTargetById), custom rules. Relative paths are relative to the config file. It is
	// read again on every reload, and the rules are loaded again when it changed.
	DirectivesFile string `yaml:"directives_file"`
	// BodyLimit bounds the bodies the rules inspect. A JSON body cannot be inspected in part, so a
	// larger body is refused with 413 in blocking mode and passes uninspected (and logged) in
	// detection mode: keep it at least limits.max_body_bytes. Default 4MiB, the default of
	// limits.max_body_bytes.
	BodyLimit ByteSize `yaml:"body_limit"`
}

// Defaults of the waf section.
const (
	DefaultWAFMode                             = "off"
	DefaultWAFParanoiaLevel                    = 1
	DefaultWAFInboundAnomalyThreshold          = 5
	DefaultWAFBodyLimit               ByteSize = DefaultMaxBodyBytes
)

// maxLimit bounds the counting limits: beyond it a limit protects nothing.
const maxLimit = 1 << 30

// limits checks the limits section.
func (v *validator) limits(path string, l Limits) {
	v.size(field(path, "max_body_bytes"), l.MaxBodyBytes)
	v.count(field(path, "max_header_count"), l.MaxHeaderCount, 1, 10000)
	v.size(field(path, "max_header_bytes"), l.MaxHeaderBytes)
	if p := field(path, "max_header_bytes"); l.MaxHeaderBytes > 0 && l.MaxHeaderBytes < 1*KiB {
		v.fieldf(p, "%s leaves no room for ordinary headers: want at least 1KiB", l.MaxHeaderBytes)
	} else if l.MaxHeaderBytes > 16*MiB {
		v.fieldf(p, "%s is more than HTTP servers accept (16MiB)", l.MaxHeaderBytes)
	}
	v.count(field(path, "max_json_depth"), l.MaxJSONDepth, 1, 10000)
	v.count(field(path, "max_array_length"), l.MaxArrayLength, 1, maxLimit)
	v.size(field(path, "max_string_length"), l.MaxStringLength)
	v.size(field(path, "max_url_bytes"), l.MaxURLBytes)
	if p := field(path, "max_url_bytes"); l.MaxURLBytes > 0 && l.MaxURLBytes < 256 {
		v.fieldf(p, "%s is too small for ordinary URLs: want at least 256B", l.MaxURLBytes)
	}
}

// size checks a byte-size field: positive when set.
func (v *validator) size(path string, s ByteSize) {
	if s < 0 || s == 0 && v.has(path) {
		v.fieldf(path, "want a positive size, got %d", s)
	}
}

// wafConfig checks the waf section.
func (v *validator) wafConfig(path string, w WAF) {
	if w.Mode != "" || v.has(field(path, "mode")) {
		if !oneOf(w.Mode, WAFModes) {
			v.fieldf(field(path, "mode"), "unknown mode %q: want one of %s", w.Mode, strings.Join(WAFModes, ", "))
		}
	}
	v.count(field(path, "paranoia_level"), w.ParanoiaLevel, 1, 4)
	v.count(field(path, "inbound_anomaly_threshold"), w.InboundAnomalyThreshold, 1, 10000)
	seen := map[int]bool{}
	for i, id := range w.ExcludeRules {
		p := index(field(path, "exclude_rules"), i)
		switch {
		case id <= 0:
			v.fieldf(p, "want a rule id, a positive number, got %d", id)
		case seen[id]:
			v.fieldf(p, "rule %d is listed twice", id)
		}
		seen[id] = true
	}
	v.nonEmpty(field(path, "directives_file"), w.DirectivesFile)
	v.file(field(path, "directives_file"), w.DirectivesFile)
	v.size(field(path, "body_limit"), w.BodyLimit)
}

func (l *Limits) complete() {
	setDefault(&l.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&l.MaxHeaderCount, DefaultMaxHeaderCount)
	setDefault(&l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&l.MaxJSONDepth, DefaultMaxJSONDepth)
	setDefault(&l.MaxArrayLength, DefaultMaxArrayLength)
	setDefault(&l.MaxStringLength, DefaultMaxStringLength)
	setDefault(&l.MaxURLBytes, DefaultMaxURLBytes)
}

func (w *WAF) complete() {
	setDefault(&w.Mode, DefaultWAFMode)
	setDefault(&w.ParanoiaLevel, DefaultWAFParanoiaLevel)
	setDefault(&w.InboundAnomalyThreshold, DefaultWAFInboundAnomalyThreshold)
	setDefault(&w.BodyLimit, DefaultWAFBodyLimit)
}

func (w *WAF) resolvePaths(resolve func(*string)) { resolve(&w.DirectivesFile) }

// limitsSummary prints the limits that differ from the defaults.
func (s *summary) limits(l Limits) {
	d := Limits{}
	d.complete()
	if l == d {
		return
	}
	s.line(0, "limits %s", settings(
		"max_body_bytes", sizeIf(l.MaxBodyBytes, d.MaxBodyBytes),
		"max_header_count", intIf(l.MaxHeaderCount, d.MaxHeaderCount),
		"max_header_bytes", sizeIf(l.MaxHeaderBytes, d.MaxHeaderBytes),
		"max_json_depth", intIf(l.MaxJSONDepth, d.MaxJSONDepth),
		"max_array_length", intIf(l.MaxArrayLength, d.MaxArrayLength),
		"max_string_length", sizeIf(l.MaxStringLength, d.MaxStringLength),
		"max_url_bytes", sizeIf(l.MaxURLBytes, d.MaxURLBytes)))
}

// waf prints the waf section when the firewall is on or configured.
func (s *summary) waf(w WAF) {
	d := WAF{}
	d.complete()
	if w.Mode == d.Mode && w.ParanoiaLevel == d.ParanoiaLevel && w.InboundAnomalyThreshold == d.InboundAnomalyThreshold &&
		len(w.ExcludeRules) == 0 && w.DirectivesFile == "" && w.BodyLimit == d.BodyLimit {
		return
	}
	ids := make([]string, len(w.ExcludeRules))
	for i, id := range w.ExcludeRules {
		ids[i] = strconv.Itoa(id)
	}
	s.line(0, "waf %s", settings("mode", w.Mode, "paranoia_level", w.ParanoiaLevel,
		"inbound_anomaly_threshold", w.InboundAnomalyThreshold, "exclude_rules", strings.Join(ids, ","),
		"directives_file", w.DirectivesFile, "body_limit", w.BodyLimit.String()))
}

func sizeIf(v, def ByteSize) string {
	if v == def {
		return ""
	}
	return v.String()
}

func intIf(v, def int) int {
	if v == def {
		return 0
	}
	return v
}
