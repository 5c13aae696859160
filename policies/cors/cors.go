// Package cors answers browsers' cross-origin checks for the HTTP fronts: gRPC-Web, REST and GraphQL.
//
// A middleware compiled once per snapshot from the cors section sits in front of each HTTP front.
// Requests without an Origin header pass untouched. A preflight (OPTIONS with Origin and
// Access-Control-Request-Method) is answered here and never reaches the front: 204 with the
// allowed methods, headers and max age when the origin, the method and every requested header are
// allowed; otherwise 403 with a google.rpc.Status JSON body (PERMISSION_DENIED) and no CORS
// headers, which the browser reports as a failed preflight. An actual request from an allowed
// origin gets Access-Control-Allow-Origin (the origin itself, with Vary: Origin), the credentials
// flag and the exposed headers; one from any other origin is served without CORS headers, so the
// browser withholds the response from the page.
package cors

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// New compiles cfg into a middleware; nil when CORS is not configured.
func New(cfg config.CORS) (policy.Middleware, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	p, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	return func(_ policy.Front, next http.Handler) http.Handler {
		return &handler{p: p, next: next}
	}, nil
}

// policyOf is the compiled cors section. Header values that never change are kept as ready slices,
// so answering costs no allocation for them (they are shared: nothing may modify them).
type policyOf struct {
	anyOrigin   bool                // "*" is among the origins
	exact       map[string][]string // origin -> its ready Access-Control-Allow-Origin value
	patterns    []pattern
	credentials bool

	methods    map[string]bool
	headers    map[string]bool // canonical (textproto.CanonicalMIMEHeaderKey)
	anyHeader  bool
	exposed    []string // lower case exact names
	exposedPre []string // canonical prefixes of "prefix*" entries

	// exposeOne caches, per response header name matching an exposed prefix, the
	// Access-Control-Expose-Headers value of a response that has only that one such header (the
	// usual case), so exposeWriter builds it once rather than per response. Copy-on-write, bounded
	// by maxExposeCache: header names come from upstreams.
	exposeOne   atomic.Pointer[map[string][]string]
	exposeOneMu sync.Mutex

	allowMethods, allowHeaders, maxAge, exposeHeaders []string
}

// Shared header values.
var (
	valStar          = []string{"*"}
	valTrue          = []string{"true"}
	valOrigin        = []string{"Origin"}
	valPreflightVary = []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
)

// pattern is an allowed origin with "*" for the first host label or the port.
type pattern struct {
	scheme  string
	host    string // without the "*." of anySub
	anySub  bool   // "*.host": one or more labels before host
	port    string // "" for none
	anyPort bool   // ":*": any port, or none
}

func compile(cfg config.CORS) (*policyOf, error) {
	p := &policyOf{
		exact:       make(map[string][]string),
		credentials: cfg.AllowCredentials,
		methods:     make(map[string]bool),
		headers:     make(map[string]bool),
	}
	for _, o := range cfg.AllowedOrigins {
		switch {
		case o == "*":
			if cfg.AllowCredentials {
				return nil, errors.New(`cors: origin "*" with allow_credentials would let every site call with the user's credentials`)
			}
			p.anyOrigin = true
		case strings.Contains(o, "*"):
			pt, ok := parsePattern(o)
			if !ok {
				return nil, fmt.Errorf("cors: invalid origin pattern %q", o)
			}
			p.patterns = append(p.patterns, pt)
		default:
			o = strings.ToLower(o)
			p.exact[o] = []string{o}
		}
	}
	methods := cfg.AllowedMethods
	if methods == nil {
		methods = config.DefaultCORSAllowedMethods
	}
	for _, m := range methods {
		p.methods[strings.ToUpper(m)] = true
	}
	p.allowMethods = []string{strings.ToUpper(strings.Join(methods, ", "))}
	headers := cfg.AllowedHeaders
	if headers == nil {
		headers = config.DefaultCORSAllowedHeaders
	}
	var listed []string
	for _, h := range headers {
		h = strings.ToLower(h)
		if h == "*" {
			p.anyHeader = true
			continue
		}
		p.headers[textproto.CanonicalMIMEHeaderKey(h)] = true
		listed = append(listed, h)
	}
	if len(listed) > 0 {
		p.allowHeaders = []string{strings.Join(listed, ", ")}
	}
	exposed := cfg.ExposedHeaders
	if exposed == nil {
		exposed = config.DefaultCORSExposedHeaders
	}
	for _, h := range exposed {
		if pre, ok := strings.CutSuffix(h, "*"); ok {
			p.exposedPre = append(p.exposedPre, textproto.CanonicalMIMEHeaderKey(pre))
			continue
		}
		p.exposed = append(p.exposed, strings.ToLower(h))
	}
	if len(p.exposed) > 0 {
		p.exposeHeaders = []string{strings.Join(p.exposed, ", ")}
	}
	maxAge := cfg.MaxAge
	if maxAge == 0 {
		maxAge = config.DefaultCORSMaxAge
	}
	p.maxAge = []string{strconv.FormatInt(int64(maxAge/time.Second), 10)}
	return p, nil
}

// parsePattern parses "scheme://[*.]host[:port|:*]" (validated by the config already).
func parsePattern(o string) (pattern, bool) {
	scheme, rest, ok := strings.Cut(strings.ToLower(o), "://")
	if !ok {
		return pattern{}, false
	}
	pt := pattern{scheme: scheme}
	host, port := splitHostPort(rest)
	switch port {
	case "*":
		pt.anyPort = true
	default:
		pt.port = port
	}
	if sub, ok := strings.CutPrefix(host, "*."); ok {
		pt.anySub, host = true, sub
	}
	if host == "" || strings.Contains(host, "*") {
		return pattern{}, false
	}
	pt.host = host
	return pt, true
}

// originHost reports whether host can be an origin's host as browsers write it: a name or IPv4
// address, of labels of lower-case letters, digits and '-' (none empty: "..example.com" is no host,
// though "*.example.com" would match it), or an IPv6 address in brackets.
func originHost(host string) bool {
	if v6, ok := strings.CutPrefix(host, "["); ok {
		v6, ok = strings.CutSuffix(v6, "]")
		ip, err := netip.ParseAddr(v6)
		return ok && err == nil && ip.Is6() && ip.Zone() == ""
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || strings.Trim(label, "0123456789abcdefghijklmnopqrstuvwxyz-") != "" {
			return false
		}
	}
	return true
}

// originPort reports whether port can be an origin's port: none, or 1 to 65535 as browsers write
// it, without leading zeros (a pattern's ":*" takes no "0", "99999" or "0443").
func originPort(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.Atoi(port)
	return err == nil && '1' <= port[0] && port[0] <= '9' && n <= 65535
}

// splitHostPort splits "host:port", "[v6]:port", "host" or "[v6]".
func splitHostPort(s string) (host, port string) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.HasSuffix(s, "]") {
		return s, ""
	}
	return s[:i], s[i+1:]
}

// allowed reports whether origin may make cross-origin calls.
func (p *policyOf) allowed(origin string) bool {
	if p.anyOrigin || p.exact[origin] != nil {
		return true
	}
	if len(p.patterns) == 0 {
		return false
	}
	scheme, rest, ok := strings.Cut(origin, "://")
	if !ok {
		return false
	}
	host, port := splitHostPort(rest)
	if !originHost(host) || !originPort(port) || strings.HasSuffix(rest, ":") {
		return false // not an origin a browser sends: "localhost:3000@evil.com", a path
	}
	for i := range p.patterns {
		pt := &p.patterns[i]
		if pt.scheme != scheme || !pt.anyPort && pt.port != port {
			continue
		}
		if pt.anySub {
			if len(host) > len(pt.host)+1 && strings.HasSuffix(host, pt.host) && host[len(host)-len(pt.host)-1] == '.' {
				return true
			}
		} else if host == pt.host {
			return true
		}
	}
	return false
}

// handler is the middleware in front of one front.
type handler struct {
	p    *policyOf
	next http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origins := r.Header["Origin"]
	if len(origins) == 0 {
		h.vary(w.Header())
		h.next.ServeHTTP(w, r)
		return
	}
	origin := origins[0]
	if r.Method == http.MethodOptions && len(r.Header["Access-Control-Request-Method"]) > 0 {
		h.preflight(w, r, origin)
		return
	}
	hdr := w.Header()
	h.vary(hdr)
	if !h.p.allowed(origin) {
		h.next.ServeHTTP(w, r)
		return
	}
	h.allowOrigin(hdr, origin)
	if len(r.Header["Upgrade"]) > 0 {
		policy.AllowCrossOrigin(r.Context()) // a WebSocket handshake: the fronts accept it from origin
	}
	if h.p.exposeHeaders != nil {
		hdr["Access-Control-Expose-Headers"] = h.p.exposeHeaders
	}
	if len(h.p.exposedPre) > 0 && len(r.Header["Upgrade"]) == 0 {
		// The telemetry's writer, when it is the one we got, runs the hook itself: no second wrapper.
		if hw, ok := w.(policy.HookWriter); !ok || !hw.SetHeaderHook(h.p) {
			w = &exposeWriter{ResponseWriter: w, p: h.p}
		}
	}
	h.next.ServeHTTP(w, r)
}

// vary says caches must key responses by Origin, unless every origin gets the same "*".
func (h *handler) vary(hdr http.Header) {
	if h.p.anyOrigin {
		return
	}
	if _, ok := hdr["Vary"]; ok {
		hdr.Add("Vary", "Origin")
		return
	}
	hdr["Vary"] = valOrigin
}

// allowOrigin sets Access-Control-Allow-Origin (and -Credentials) for an allowed origin.
func (h *handler) allowOrigin(hdr http.Header, origin string) {
	if h.p.anyOrigin {
		hdr["Access-Control-Allow-Origin"] = valStar
		return
	}
	if v := h.p.exact[origin]; v != nil {
		hdr["Access-Control-Allow-Origin"] = v // shared, built by compile: no allocation per request
	} else {
		hdr["Access-Control-Allow-Origin"] = []string{origin}
	}
	if h.p.credentials {
		hdr["Access-Control-Allow-Credentials"] = valTrue
	}
}

// preflight answers an OPTIONS preflight, without calling the front.
func (h *handler) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	hdr := w.Header()
	hdr["Vary"] = valPreflightVary
	if !h.p.allowed(origin) {
		refuse(w, "origin "+strconv.Quote(origin)+" is not allowed to call this gateway")
		return
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if !h.p.methods[method] {
		refuse(w, "method "+strconv.Quote(method)+" is not allowed from origin "+strconv.Quote(origin))
		return
	}
	// The requested names are a comma-separated list, with optional spaces and tabs around each
	// (HTTP's OWS, which textproto.TrimString trims; strings.TrimSpace would also take non-ASCII
	// spaces for it). A name matches an allowed one in any ASCII case: the canonical form of a
	// token, and the name itself when it is none, so no other character folds into a match.
	requested := r.Header.Values("Access-Control-Request-Headers")
	for _, line := range requested {
		for name := range strings.SplitSeq(line, ",") {
			name = textproto.TrimString(name)
			if name != "" && !h.p.anyHeader && !h.p.headers[textproto.CanonicalMIMEHeaderKey(name)] {
				refuse(w, "header "+strconv.Quote(name)+" is not allowed from origin "+strconv.Quote(origin))
				return
			}
		}
	}
	h.allowOrigin(hdr, origin)
	hdr["Access-Control-Allow-Methods"] = h.p.allowMethods
	switch {
	case h.p.anyHeader && len(requested) > 0:
		hdr["Access-Control-Allow-Headers"] = []string{strings.Join(requested, ", ")}
	case h.p.allowHeaders != nil:
		hdr["Access-Control-Allow-Headers"] = h.p.allowHeaders
	}
	hdr["Access-Control-Max-Age"] = h.p.maxAge
	w.WriteHeader(http.StatusNoContent)
}

// refuse answers a preflight the policy does not allow: 403 with a google.rpc.Status body and no
// CORS headers, so the browser fails the preflight and tells the page's developer why in its console.
func refuse(w http.ResponseWriter, msg string) {
	body, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []any  `json:"details"`
	}{Code: 7, Message: "CORS preflight refused: " + msg, Details: []any{}})
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write(body)
}

// exposeWriter adds to Access-Control-Expose-Headers, when the response's headers are written, the
// names that match an exposed prefix ("Grpc-Metadata-*"): CORS has no prefix syntax of its own.
type exposeWriter struct {
	http.ResponseWriter
	p    *policyOf
	done bool
}

func (w *exposeWriter) expose() {
	if w.done {
		return
	}
	w.done = true
	w.p.expose(w.Header())
}

// BeforeHeader adds the exposed names to the response's headers (policy.HeaderHook).
func (p *policyOf) BeforeHeader(hdr http.Header) { p.expose(hdr) }

// maxExposeCache bounds policyOf.exposeOne.
const maxExposeCache = 1024

// expose adds to hdr's Access-Control-Expose-Headers the names of hdr that match an exposed prefix.
func (p *policyOf) expose(hdr http.Header) {
	var (
		first string // the first matching name, canonical
		n     int    // matching names
	)
	for name := range hdr {
		if p.exposedPrefix(name) {
			if n == 0 {
				first = name
			}
			n++
		}
	}
	switch n {
	case 0:
		return
	case 1: // the usual case: a value built once per name
		if m := p.exposeOne.Load(); m != nil {
			if v, ok := (*m)[first]; ok {
				hdr["Access-Control-Expose-Headers"] = v
				return
			}
		}
		v := p.exposeValue([]string{strings.ToLower(first)})
		p.cacheExposeOne(first, v)
		hdr["Access-Control-Expose-Headers"] = v
		return
	}
	names := make([]string, 0, n+1)
	for name := range hdr {
		if p.exposedPrefix(name) {
			names = append(names, strings.ToLower(name))
		}
	}
	hdr["Access-Control-Expose-Headers"] = p.exposeValue(names)
}

// exposedPrefix reports whether name (canonical) matches an exposed prefix.
func (p *policyOf) exposedPrefix(name string) bool {
	for _, pre := range p.exposedPre {
		if strings.HasPrefix(name, pre) {
			return true
		}
	}
	return false
}

// exposeValue is the Access-Control-Expose-Headers value exposing names (lower case) and the
// exact exposed names.
func (p *policyOf) exposeValue(names []string) []string {
	if p.exposeHeaders != nil {
		names = append(names, p.exposeHeaders[0])
	}
	return []string{strings.Join(names, ", ")}
}

// cacheExposeOne remembers v as the value for a response whose only prefix-matching header is name.
// The values are shared between responses: nothing may modify them (as the other ready values).
func (p *policyOf) cacheExposeOne(name string, v []string) {
	p.exposeOneMu.Lock()
	defer p.exposeOneMu.Unlock()
	old := p.exposeOne.Load()
	n := 0
	if old != nil {
		n = len(*old)
	}
	if n >= maxExposeCache {
		return
	}
	next := make(map[string][]string, n+1)
	if old != nil {
		for k, val := range *old {
			next[k] = val
		}
	}
	next[name] = v
	p.exposeOne.Store(&next)
}

func (w *exposeWriter) WriteHeader(code int) {
	w.expose()
	w.ResponseWriter.WriteHeader(code)
}

func (w *exposeWriter) Write(b []byte) (int, error) {
	w.expose()
	return w.ResponseWriter.Write(b)
}

// Flush passes flushes on, for streaming responses (Server-Sent Events, REST streams).
func (w *exposeWriter) Flush() {
	w.expose()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *exposeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
