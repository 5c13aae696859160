// Package waf inspects REST and GraphQL requests with Coraza running the OWASP Core Rule Set, embedded
// in the binary (no rule files at run time).
//
// Data flow: New loads the rule set once (about a second: build one Firewall and keep it across
// snapshots). Middleware, applied once per snapshot to the REST and GraphQL fronts (gRPC and
// gRPC-Web pass untouched: their messages are protobuf, which the rules cannot read), asks the
// snapshot for the request's mode and REST binding (Route) and, unless the mode is off, runs one
// Coraza transaction per request: connection, method and request target (query arguments, and the
// path segments of a REST route, a persisted GraphQL operation's too, as path.N), headers, then the
// body. JSON bodies — REST bodies and GraphQL POSTs, whose "query" and
// "variables" become arguments such as json.variables.id — are parsed by Coraza's JSON body
// processor into ARGS, so every string a client sends is inspected where it is; a GraphQL GET's
// variables parameter is flattened into ARGS the same way. Of a GraphQL document, the rules that
// detect attacks read its string literals, each unescaped as its own argument, and not its text,
// whose names are no attack (graphql.go). A REST body in binary protobuf is inspected as the JSON
// the REST front reads as the same message (the request's binding, from the snapshot, renders
// it), so it gets a JSON body's inspection. The body is read up to the inspection limit and handed
// on to the front unchanged. A google.api.HttpBody upload's data, bytes of any type, is not read
// (rawBody).
//
// A streaming request's messages (NDJSON lines, WebSocket text frames, GraphQL WebSocket operations)
// arrive after the request has passed: the middleware hands the front a policy.MessageInspector,
// and each message gets a transaction of its own with the request's target and headers, inspected
// as a one-message JSON body (messages.go).
//
// In blocking mode a request that reaches the inbound anomaly threshold is refused with 403
// PERMISSION_DENIED, its matched rule ids in a google.rpc.ErrorInfo detail (reason WAF_BLOCKED, domain
// waf.protogate.dev, metadata ruleIds and ruleMessages); in detection mode it passes. Either way one
// log line per request (slog, Warn) names the front, the HTTP method, the REST route and the method
// it calls (when a binding serves the request), and the matched rules with the variables they
// matched — never values: not the path, the query, headers or bodies, which may hold secrets.
package waf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/types"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/sanitize"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
	"github.com/protogate/gateway/transcoder"
)

// The modes of a request.
const (
	Blocking  = "blocking"
	Detection = "detection"
	Off       = "off"
)

// Firewall is a loaded rule set (long-lived: loading the CRS takes time). It is safe for concurrent
// use; a nil *Firewall inspects nothing.
type Firewall struct {
	waf       coraza.WAF
	log       *slog.Logger
	bodyLimit int64
	mode      string // the waf section's mode: requests whose mode is "" get it
}

// New loads the firewall for cfg: the CRS at cfg's paranoia level and anomaly threshold, without the
// excluded rules, then cfg's directives file. It loads even when cfg.Mode is off, since rules may turn
// the WAF on for some methods; use Enabled to decide whether to call it at all.
func New(cfg config.WAF, log *slog.Logger) (*Firewall, error) {
	if log == nil {
		log = slog.Default()
	}
	directives, err := Directives(cfg)
	if err != nil {
		return nil, err
	}
	w, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(directives))
	if err != nil {
		if cfg.DirectivesFile != "" {
			// The embedded rules load: a directive that does not is the file's, which Coraza,
			// reading one text, cannot name.
			return nil, fmt.Errorf("waf: loading the rules with directives_file %q: %w", cfg.DirectivesFile, err)
		}
		return nil, fmt.Errorf("waf: loading the rules: %w", err)
	}
	tx := w.NewTransaction()
	_, removes := tx.(ruleRemover)
	_ = tx.Close()
	if !removes {
		return nil, fmt.Errorf("waf: a Coraza transaction (%T) cannot remove a rule", tx)
	}
	mode := cfg.Mode
	if mode == "" {
		mode = config.DefaultWAFMode
	}
	return &Firewall{waf: w, log: log, bodyLimit: bodyLimit(cfg), mode: mode}, nil
}

func bodyLimit(cfg config.WAF) int64 {
	if cfg.BodyLimit > 0 {
		return int64(cfg.BodyLimit)
	}
	return int64(config.DefaultWAFBodyLimit)
}

// Enabled reports whether any request can meet the firewall: the waf section's mode or a rule's is
// not off.
func Enabled(p config.Policies) bool {
	if p.WAF.Mode != "" && p.WAF.Mode != Off {
		return true
	}
	for _, r := range p.Rules {
		if r.WAF != "" && r.WAF != Off {
			return true
		}
	}
	return false
}

// Strictest returns the strictest of modes (blocking, then detection, then off): the mode of a
// GraphQL request, which may call any method the schema exposes, is the strictest of those methods'
// modes — no method's protection is weakened by reaching it through GraphQL.
func Strictest(modes ...string) string {
	best := Off
	for _, m := range modes {
		switch {
		case m == Blocking:
			return Blocking
		case m == Detection:
			best = Detection
		}
	}
	return best
}

// Directives returns the SecLang text New loads for cfg: Coraza's recommended settings, the gateway's
// adjustments for REST and GraphQL, the CRS setup, cfg's settings, the CRS rules, the removals, and
// the directives file's content.
func Directives(cfg config.WAF) (string, error) {
	pl := cfg.ParanoiaLevel
	if pl == 0 {
		pl = config.DefaultWAFParanoiaLevel
	}
	threshold := cfg.InboundAnomalyThreshold
	if threshold == 0 {
		threshold = config.DefaultWAFInboundAnomalyThreshold
	}
	if pl < 1 || pl > 4 || threshold < 1 {
		return "", fmt.Errorf("waf: paranoia_level %d or inbound_anomaly_threshold %d out of range", pl, threshold)
	}
	limit := bodyLimit(cfg)
	var b strings.Builder
	fmt.Fprintf(&b, `Include @coraza.conf-recommended
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit %[1]d
SecRequestBodyInMemoryLimit %[1]d
SecRequestBodyLimitAction Reject
SecResponseBodyAccess Off
SecAuditEngine Off
# The REST front reads a body without Content-Type as JSON: so does the firewall, and such a body is
# no protocol anomaly (920340).
SecRule &REQUEST_HEADERS:Content-Type "@eq 0" "id:10001,phase:1,t:none,pass,nolog,ctl:requestBodyProcessor=JSON,ctl:ruleRemoveById=920340"
# A protobuf body reaches the rules as the JSON the REST front reads as the same message (or not at
# all: see protobufJSON), never as its binary, which CRS rule 901340 would parse as urlencoded.
SecRule REQUEST_HEADERS:Content-Type "@rx (?i)^\s*application/(?:x-)?protobuf\s*(?:;|$)" "id:10003,phase:1,t:none,pass,nolog,ctl:requestBodyProcessor=JSON"
Include @crs-setup.conf.example
SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%[2]d"
SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=%[3]d,setvar:tx.outbound_anomaly_score_threshold=4"
SecAction "id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PUT PATCH DELETE'"
SecAction "id:900220,phase:1,pass,t:none,nolog,setvar:'tx.allowed_request_content_type=|application/x-www-form-urlencoded| |multipart/form-data| |application/json| |application/x-protobuf| |application/protobuf| |application/x-ndjson| |application/jsonl| |application/graphql| |application/graphql-response+json| |application/merge-patch+json|'"
# A GraphQL request's operationName picks an operation of its document by name: one that is a name is
# no attack (an operation named WhoAmI is no Unix command), and one that is not picks none, which the
# front refuses (as it refuses a parameter given twice). The rule runs in phase 2, once the body's
# arguments are known, and before the rule set, whose rules that detect attacks (930000-944999) run
# in phase 2 too. The GraphQL endpoint is /graphql and what lies below it, as the server routes them:
# a REST route such as /graphqlx keeps the rules.
SecRule REQUEST_FILENAME "@rx ^/graphql(?:/|$)" "id:10004,phase:2,t:none,pass,nolog,chain"
  SecRule ARGS:json.operationName|ARGS:operationName "@rx ^[_A-Za-z][_0-9A-Za-z]*$" "t:none,ctl:ruleRemoveTargetById=930000-944999;ARGS:json.operationName,ctl:ruleRemoveTargetById=930000-944999;ARGS:operationName"
Include @owasp_crs/*.conf
# A GraphQL document's names are no attack, and the rules take them for one (a field named ls, md or
# select; a variable named $where): the rules that detect attacks read the document's string literals,
# each an argument of its own (graphql.go), and not its text.
SecRule REQUEST_FILENAME "@rx ^/graphql(?:/|$)" "id:10002,phase:1,t:none,pass,nolog,ctl:ruleRemoveTargetById=930000-944999;ARGS:json.query,ctl:ruleRemoveTargetById=930000-944999;ARGS:query"
`, limit, pl, threshold)
	for _, id := range cfg.ExcludeRules {
		fmt.Fprintf(&b, "SecRuleRemoveById %d\n", id)
	}
	if cfg.DirectivesFile != "" {
		extra, err := os.ReadFile(cfg.DirectivesFile)
		if err != nil {
			return "", fmt.Errorf("waf: directives_file: %w", err)
		}
		b.Write(extra)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// Route is what the snapshot knows of a request the firewall meets.
type Route struct {
	// Mode is the request's mode (Blocking, Detection, Off): the mode of the rule of the method it
	// calls, or "" for the waf section's mode.
	Mode string
	// Binding is the REST binding the request calls, or nil: a GraphQL request, or one that no
	// binding serves.
	Binding *transcoder.Binding
}

// Middleware inspects requests of the REST and GraphQL fronts; route returns what the snapshot knows
// of a request. A nil Firewall's middleware passes every request on.
func (f *Firewall) Middleware(route func(r *http.Request, front policy.Front) Route) policy.Middleware {
	return func(front policy.Front, next http.Handler) http.Handler {
		if f == nil || (front != policy.FrontREST && front != policy.FrontGraphQL) {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rt := route(r, front)
			m := rt.Mode
			if m == "" {
				m = f.mode
			}
			if m != Blocking && m != Detection {
				next.ServeHTTP(w, r)
				return
			}
			f.serve(w, r, front, rt.Binding, m == Blocking, next)
		})
	}
}

// serve inspects r, which calls b (nil when no binding serves it), and hands it to next unless it
// is refused.
func (f *Firewall) serve(w http.ResponseWriter, r *http.Request, front policy.Front, b *transcoder.Binding, blocking bool, next http.Handler) {
	tx := f.waf.NewTransaction()
	defer func() {
		tx.ProcessLogging()
		_ = tx.Close()
	}()
	ndjson := !rawBody(b) && isStream(r)
	it, body, err := f.inspect(tx, r, front, b, ndjson)
	if err != nil {
		// The body could not be read: the sanitizer's refusals (413, 400) surface here.
		sanitize.Refused(r.Context(), err)
		sanitize.WriteRefusal(w, r, front, err)
		return
	}
	if body != nil {
		r.Body = body
		defer body.release()
	}
	if it == nil {
		next.ServeHTTP(w, f.withMessages(r, front, b, blocking, ndjson))
		return
	}
	ids, msgs, vars := matched(tx.MatchedRules(), it)
	action := "detected"
	if blocking {
		action = "blocked"
	}
	route, rpc := routeAttrs(b)
	f.log.Warn("waf: request matched rules", "action", action, "front", string(front), "method", r.Method,
		route, rpc, "rules", ids, "messages", msgs, "variables", vars)
	if !blocking {
		next.ServeHTTP(w, f.withMessages(r, front, b, blocking, ndjson))
		return
	}
	reason, err := denial(it, ids, msgs)
	callinfo.From(r.Context()).Deny(callinfo.Denial{Policy: "waf", Reason: reason, Code: uint32(status.Code(err))})
	sanitize.WriteRefusal(w, r, front, err)
}

// bodyTooLarge is the interruption for a body over the inspection limit: a JSON body cannot be
// inspected in part.
var bodyTooLarge = &types.Interruption{RuleID: 0, Action: "deny", Status: http.StatusRequestEntityTooLarge}

// bodyUnreadable is the interruption for a protobuf body that does not decode as its binding's
// message: the rules cannot read it, as they cannot read a JSON body that does not parse (200002).
var bodyUnreadable = &types.Interruption{RuleID: 0, Action: "deny", Status: http.StatusBadRequest}

// inspect runs the request phases; it returns the interruption, if any, and the body to hand on.
// b is the binding the request calls, or nil; ndjson says the body is a stream of messages,
// inspected one by one as the front reads them.
func (f *Firewall) inspect(tx types.Transaction, r *http.Request, front policy.Front, b *transcoder.Binding, ndjson bool) (*types.Interruption, *replay, error) {
	h := headOf(r, front)
	h.anyContentType = rawBody(b)
	if it := h.process(tx); it != nil {
		return it, nil, nil
	}
	if ndjson || h.anyContentType {
		// A newline-delimited JSON body is a client stream: reading it to the end before the call
		// starts would stall a bidi stream, whose client waits for answers before sending more. Its
		// target and headers are inspected here, each of its lines by the transcoder as it decodes
		// it (see withMessages). A google.api.HttpBody's data is not inspected at all (see rawBody).
		it, err := tx.ProcessRequestBody()
		return it, nil, err
	}
	var body *replay
	if r.Body != nil && r.Body != http.NoBody && tx.IsRequestBodyAccessible() {
		buf := bufferPool.Get().(*bytes.Buffer)
		buf.Reset()
		_, err := buf.ReadFrom(io.LimitReader(r.Body, f.bodyLimit+1))
		body = &replay{buf: buf, orig: r.Body}
		body.Reader = io.MultiReader(bytes.NewReader(buf.Bytes()), r.Body)
		if err != nil {
			body.release()
			return nil, nil, sanitize.ReadError(r.Context(), err, 0)
		}
		if int64(buf.Len()) > f.bodyLimit {
			return bodyTooLarge, body, nil
		}
		data := buf.Bytes()
		if transcoder.IsProtobuf(r.Header.Get("Content-Type")) {
			var it *types.Interruption
			if data, it = f.protobufJSON(b, data); it != nil {
				return it, body, nil
			}
		}
		if it, _, err := tx.WriteRequestBody(data); it != nil || err != nil {
			return it, body, err
		}
		if front == policy.FrontGraphQL {
			addBodyLiterals(data, tx.AddPostRequestArgument)
		}
	}
	it, err := tx.ProcessRequestBody()
	return it, body, err
}

// protobufJSON returns a binary protobuf body as the rules read it: the JSON the REST front reads as
// the same message on b (Binding.ProtobufBodyJSON), which rule 10003 has Coraza parse as JSON. So
// such a body is inspected as its JSON twin is, argument names included, and its binary never
// meets rules meant for text (urlencoded parsing, 920270's null character). It returns nil, and
// nothing of the body is inspected, when the front reads no protobuf body on the request: no
// binding serves it (the front answers 404), or the binding takes no body or takes only JSON
// (415). (A google.api.HttpBody's bytes never get here: see rawBody.) A body that does not decode
// as its message is bodyUnreadable; one whose JSON is over the inspection limit, bodyTooLarge.
func (f *Firewall) protobufJSON(b *transcoder.Binding, data []byte) ([]byte, *types.Interruption) {
	if b == nil || len(data) == 0 {
		return nil, nil
	}
	out, ok, err := b.ProtobufBodyJSON(data)
	switch {
	case !ok:
		return nil, nil
	case err != nil:
		return nil, bodyUnreadable
	case int64(len(out)) > f.bodyLimit:
		return nil, bodyTooLarge
	}
	return out, nil
}

// rawBody reports whether b, the binding a request calls (or nil), passes the request's body
// upstream as the data of a google.api.HttpBody, of any Content-Type (Binding.RawBody): an upload,
// a file whose content is the backend's business. Such a body is not given to the rules, whatever
// its Content-Type, protobuf and JSON included: the method takes any type, so the type is the
// client's to choose, and a rule keyed on it would stop no attacker (who labels the bytes
// application/octet-stream) while refusing honest files, whose arbitrary bytes the Core Rule Set
// scores as attacks. Nor are the rule set's lists of the content types and charsets it can read
// (920420, 920480) a policy for it. The request's target and headers are inspected as any
// request's.
func rawBody(b *transcoder.Binding) bool { return b != nil && b.RawBody() }

// isStream reports whether r's body is a stream of messages (NDJSON) rather than one document.
func isStream(r *http.Request) bool {
	return transcoder.RequestBodyKind(r.Header.Get("Content-Type")) == transcoder.BodyNDJSON
}

// addSegments adds the segments of a decoded path as arguments path.0, path.1, ...; a custom verb
// (":cancel") stays with its segment.
func addSegments(path string, add func(key, value string)) {
	i := 0
	for seg := range strings.SplitSeq(strings.TrimPrefix(path, "/"), "/") {
		if seg != "" {
			add("path."+strconv.Itoa(i), seg)
		}
		i++
	}
}

// routeAttrs name, for the log, what a request calls: the template of its REST route and the method
// it binds ("route", "rpc"), which hold nothing a client sent, unlike the path. They are empty, and
// left out of the line, for a request no binding serves and for a GraphQL request.
func routeAttrs(b *transcoder.Binding) (route, rpc slog.Attr) {
	if b == nil {
		return slog.Attr{}, slog.Attr{}
	}
	return slog.String("route", b.Template().String()), slog.String("rpc", b.FullMethod())
}

// matched lists the rules that matched, in order, and the variables they matched (names only).
func matched(rules []types.MatchedRule, it *types.Interruption) (ids []string, msgs []string, vars []string) {
	for _, m := range rules {
		id := m.Rule().ID()
		if m.Message() == "" || id == 0 {
			continue
		}
		s := strconv.Itoa(id)
		if slices.Contains(ids, s) {
			continue
		}
		ids = append(ids, s)
		msgs = append(msgs, m.Message())
		for _, d := range m.MatchedDatas() {
			v := d.Variable().Name()
			if d.Key() != "" {
				v += ":" + d.Key()
			}
			if !slices.Contains(vars, v) {
				vars = append(vars, v)
			}
		}
	}
	if it != nil && it.RuleID != 0 && !slices.Contains(ids, strconv.Itoa(it.RuleID)) {
		ids = append(ids, strconv.Itoa(it.RuleID))
		msgs = append(msgs, "")
	}
	return ids, msgs, vars
}

// denial is the refusal of a blocked request: 403 with the rule ids, or for a body the firewall
// cannot read (too large, not parseable as its Content-Type says) 413 or 400. reason names it for
// the access log and the denials metric: the attack rule that blocked it (942100), else what the
// firewall could not read.
func denial(it *types.Interruption, ids, msgs []string) (reason string, err error) {
	info := &errdetails.ErrorInfo{Reason: "WAF_BLOCKED", Domain: "waf.protogate.dev",
		Metadata: map[string]string{"ruleIds": strings.Join(ids, ",")}}
	switch {
	case it == bodyTooLarge:
		return "WAF_BODY_TOO_LARGE", transcoder.WithHTTPStatus(policy.Deny(codes.ResourceExhausted,
			"request body larger than the web application firewall inspects"), http.StatusRequestEntityTooLarge)
	case it == bodyUnreadable || it.RuleID == 200002:
		info.Reason = "WAF_UNPARSEABLE_BODY"
		return info.Reason, policy.Deny(codes.InvalidArgument, "request body does not parse as its Content-Type says", info)
	}
	// The first rule that detected something says what was found: attack rules (93x, 94x) before
	// protocol ones (92x). The Core Rule Set's own bookkeeping found nothing: its setup (900xxx,
	// 901xxx: "Enabling body inspection"), exclusions (905xxx), and evaluation rules (949110,
	// 959100, 980xxx), which only add up the detections' scores.
	what, reason := "", info.Reason
	for _, attack := range []bool{true, false} {
		for i, id := range ids {
			if what == "" && msgs[i] != "" && detects(id) &&
				(!attack || strings.HasPrefix(id, "93") || strings.HasPrefix(id, "94")) {
				what, reason = ": "+msgs[i]+" (rule "+id+")", id
			}
		}
	}
	info.Metadata["ruleMessages"] = strings.Join(slices.DeleteFunc(slices.Clone(msgs), func(s string) bool { return s == "" }), "; ")
	return reason, policy.Deny(codes.PermissionDenied, "request blocked by the web application firewall"+what, info)
}

// detects reports whether the rule id detects something, rather than being one of the Core Rule
// Set's setup, exclusion or evaluation rules.
func detects(id string) bool {
	for _, bookkeeping := range [...]string{"900", "901", "905", "949", "959", "980"} {
		if len(id) == 6 && strings.HasPrefix(id, bookkeeping) {
			return false
		}
	}
	return true
}

// flattenJSON adds the strings, numbers and booleans of a JSON text as arguments named by their path
// (prefix.key.0.name), as Coraza's JSON body processor names a body's.
func flattenJSON(data []byte, prefix string, add func(key, value string)) {
	var v any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		add(prefix, string(data))
		return
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(path+"."+strconv.Itoa(i), e)
			}
		case string:
			add(path, x)
		case json.Number:
			add(path, x.String())
		case bool:
			add(path, strconv.FormatBool(x))
		}
	}
	walk(prefix, v)
}

// maxPooledBuffer is the largest body buffer kept for reuse.
const maxPooledBuffer = 1 << 20

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// replay hands the front the body the firewall read, then the rest of the original.
type replay struct {
	io.Reader
	buf  *bytes.Buffer
	orig io.Closer
}

func (r *replay) Close() error { return r.orig.Close() }

func (r *replay) release() {
	if r.buf != nil && r.buf.Cap() <= maxPooledBuffer {
		bufferPool.Put(r.buf)
	}
	r.buf = nil
}
