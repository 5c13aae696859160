package transcoder

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// OpenAPIOptions tune the document OpenAPI writes. The zero value is a document titled "API",
// version "0.0.0", with no servers (clients then call the host that served it) and only the methods
// that have google.api.http bindings.
type OpenAPIOptions struct {
	Title   string
	Version string
	// ServerURL, when set, is the document's one server.
	ServerURL string
	// IncludeUnbound lists each method without a google.api.http rule at POST /{pkg.Service}/{Method},
	// with the whole request message as the JSON body, as the REST front serves it when that route is
	// on: a streaming method's messages as newline-delimited JSON, a bidirectional one's both ways
	// (its route also serves a WebSocket).
	IncludeUnbound bool
	// EmitUnpopulated describes the responses of a front built WithEmitUnpopulated, which writes an
	// unset field with explicit presence outside any oneof (a proto2 scalar, a singular message) as
	// null, as protojson's EmitUnpopulated does: those fields' schemas admit null too.
	EmitUnpopulated bool
}

// OpenAPI writes an OpenAPI 3.1 document, as JSON, of the REST surface of services: one operation
// per google.api.http binding (additional bindings included), with path and query parameters,
// request and response bodies as protojson writes them (a google.api.HttpBody as the raw bytes the
// front passes), the google.rpc.Status error body, and the descriptions the protos' comments give
// when the descriptors carry source info. Schemas are named by the proto full name of their message
// or enum, the partial form of a message that is an update's body by that name and "-partial". The
// output depends only on its inputs: maps are written with sorted keys, services in order of name,
// methods in order of declaration.
//
// OpenAPI holds two paths that differ only in parameter names to be one path, so templates of one
// HTTP method that would ("/v1/{name=shelves/*}" and "/v1/{name=authors/*}", both "/v1/{name}")
// are written with their variables' leading literals in the path ("/v1/shelves/{name}",
// "/v1/authors/{name}"), each parameter saying so; every other template keeps its variables whole.
// A route bound twice is described once, by the binding the REST router serves it with: an
// explicit rule rather than a default route, a method's first binding of it.
//
// Custom HTTP methods other than HEAD, OPTIONS and TRACE have no place in OpenAPI 3.1 and are left
// out. So is a binding the document cannot describe, and only that binding: one that cannot be read
// (a path template that does not parse, a field path or body field the request message does not
// have), one whose route another method binds too, or one whose path is another binding's even with
// the literals written out ("/v2/{name=shelves/*/books/*}" and "/v2/{name=shelves/*/authors/*}").
// omitted says why each was left out, naming its method; err is set only when no document can be
// written at all.
func OpenAPI(services []protoreflect.ServiceDescriptor, opts OpenAPIOptions) (doc []byte, omitted []error, err error) {
	b := newOpenAPIBuilder(services, opts)
	for _, sd := range b.services {
		b.service(sd)
	}
	b.place()
	for _, ob := range b.bindings {
		if err := b.binding(ob); err != nil {
			b.omit(ob.md, ob.n, err)
		}
	}
	b.schemas.drain()
	document := &oaDocument{
		OpenAPI:           "3.1.0",
		Info:              oaInfo{Title: cmp.Or(opts.Title, "API"), Version: cmp.Or(opts.Version, "0.0.0")},
		JSONSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
		Tags:              b.tags,
		Paths:             b.paths,
		Components:        oaComponents{Schemas: b.schemas.schemas},
	}
	if opts.ServerURL != "" {
		document.Servers = []oaServer{{URL: opts.ServerURL}}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(document); err != nil {
		return nil, b.omitted, fmt.Errorf("openapi: %w", err)
	}
	return buf.Bytes(), b.omitted, nil
}

// The document model: only what OpenAPI writes.
type (
	oaDocument struct {
		OpenAPI           string                 `json:"openapi"`
		Info              oaInfo                 `json:"info"`
		JSONSchemaDialect string                 `json:"jsonSchemaDialect"`
		Servers           []oaServer             `json:"servers,omitempty"`
		Tags              []oaTag                `json:"tags,omitempty"`
		Paths             map[string]*oaPathItem `json:"paths"`
		Components        oaComponents           `json:"components"`
	}
	oaInfo struct {
		Title   string `json:"title"`
		Version string `json:"version"`
	}
	oaServer struct {
		URL string `json:"url"`
	}
	oaTag struct {
		Name        string `json:"name"`
		Description string `json:"description,omitempty"`
	}
	oaComponents struct {
		Schemas map[string]*oaSchema `json:"schemas"`
	}
	oaPathItem struct {
		Get     *oaOperation `json:"get,omitempty"`
		Put     *oaOperation `json:"put,omitempty"`
		Post    *oaOperation `json:"post,omitempty"`
		Delete  *oaOperation `json:"delete,omitempty"`
		Options *oaOperation `json:"options,omitempty"`
		Head    *oaOperation `json:"head,omitempty"`
		Patch   *oaOperation `json:"patch,omitempty"`
		Trace   *oaOperation `json:"trace,omitempty"`
	}
	oaOperation struct {
		Tags        []string               `json:"tags"`
		Summary     string                 `json:"summary,omitempty"`
		Description string                 `json:"description,omitempty"`
		OperationID string                 `json:"operationId"`
		Parameters  []*oaParameter         `json:"parameters,omitempty"`
		RequestBody *oaRequestBody         `json:"requestBody,omitempty"`
		Responses   map[string]*oaResponse `json:"responses"`
		Deprecated  bool                   `json:"deprecated,omitempty"`
	}
	oaParameter struct {
		Name        string    `json:"name"`
		In          string    `json:"in"`
		Description string    `json:"description,omitempty"`
		Required    bool      `json:"required,omitempty"`
		Deprecated  bool      `json:"deprecated,omitempty"`
		Explode     bool      `json:"explode,omitempty"`
		Schema      *oaSchema `json:"schema"`
	}
	oaRequestBody struct {
		Description string                  `json:"description,omitempty"`
		Content     map[string]*oaMediaType `json:"content"`
		Required    bool                    `json:"required,omitempty"`
	}
	oaResponse struct {
		Description string                  `json:"description"`
		Content     map[string]*oaMediaType `json:"content,omitempty"`
	}
	oaMediaType struct {
		Schema *oaSchema `json:"schema"`
	}
)

// slot returns where the operation of an HTTP method goes, or nil for a method OpenAPI 3.1 cannot
// describe.
func (p *oaPathItem) slot(method string) **oaOperation {
	switch strings.ToUpper(method) {
	case "GET":
		return &p.Get
	case "PUT":
		return &p.Put
	case "POST":
		return &p.Post
	case "DELETE":
		return &p.Delete
	case "OPTIONS":
		return &p.Options
	case "HEAD":
		return &p.Head
	case "PATCH":
		return &p.Patch
	case "TRACE":
		return &p.Trace
	}
	return nil
}

type openAPIBuilder struct {
	opts     OpenAPIOptions
	services []protoreflect.ServiceDescriptor // sorted by name, without repeats
	idPrefix map[protoreflect.FullName]string // service -> operationId prefix
	tags     []oaTag
	bindings []*oaBinding // in order of service, method and rule
	omitted  []error      // why each binding left out is
	paths    map[string]*oaPathItem
	shapes   map[string]oaPathShape // path with parameter names removed -> the path that has that shape
	schemas  *oaSchemaSet
}

// oaBinding is one binding of a method, read: a google.api.http rule, or the default route of a
// method without one.
type oaBinding struct {
	tag       string
	md        protoreflect.MethodDescriptor
	rule      *annotations.HttpRule
	n         int // its place among the method's rules
	opID      string
	method    string // HTTP method, upper-case
	tpl       *Template
	isDefault bool
	// expand writes the leading literals of its variables into the path: another template of its
	// HTTP method would have the same path otherwise.
	expand bool
}

// oaPathShape is the first path of a shape: OpenAPI holds paths that differ only in parameter names
// ("/v1/users/{id}", "/v1/users/{user.id}") to be the same path, so later ones take its names.
type oaPathShape struct {
	path  string
	names []string
}

func newOpenAPIBuilder(services []protoreflect.ServiceDescriptor, opts OpenAPIOptions) *openAPIBuilder {
	b := &openAPIBuilder{
		opts:     opts,
		idPrefix: make(map[protoreflect.FullName]string),
		paths:    make(map[string]*oaPathItem),
		shapes:   make(map[string]oaPathShape),
		schemas:  newOASchemaSet(opts.EmitUnpopulated),
	}
	b.services = slices.Clone(services)
	slices.SortFunc(b.services, func(x, y protoreflect.ServiceDescriptor) int {
		return strings.Compare(string(x.FullName()), string(y.FullName()))
	})
	b.services = slices.CompactFunc(b.services, func(x, y protoreflect.ServiceDescriptor) bool { return x.FullName() == y.FullName() })
	// operationIds are Service_Method; a service name that two packages use is spelled in full.
	count := make(map[protoreflect.Name]int)
	for _, sd := range b.services {
		count[sd.Name()]++
	}
	for _, sd := range b.services {
		prefix := string(sd.Name())
		if count[sd.Name()] > 1 {
			prefix = strings.ReplaceAll(string(sd.FullName()), ".", "_")
		}
		b.idPrefix[sd.FullName()] = prefix
	}
	return b
}

// service adds the tag of sd and reads the bindings of its methods.
func (b *openAPIBuilder) service(sd protoreflect.ServiceDescriptor) {
	tag := string(sd.FullName())
	b.tags = append(b.tags, oaTag{Name: tag, Description: oaComments(sd)})
	methods := sd.Methods()
	for i := range methods.Len() {
		md := methods.Get(i)
		rules, err := HTTPRules(md)
		if err != nil {
			b.omitted = append(b.omitted, err) // it names the method
			continue
		}
		isDefault := rules == nil
		if isDefault {
			if !b.opts.IncludeUnbound {
				continue
			}
			rules = []*annotations.HttpRule{{
				Pattern: &annotations.HttpRule_Post{Post: "/" + string(sd.FullName()) + "/" + string(md.Name())},
				Body:    "*",
			}}
		}
		id := b.idPrefix[sd.FullName()] + "_" + string(md.Name())
		for n, rule := range rules {
			method, tmpl := RulePattern(rule)
			if new(oaPathItem).slot(method) == nil {
				continue // a custom method OpenAPI 3.1 has no place for
			}
			tpl, err := ParseTemplate(tmpl)
			if err != nil {
				b.omit(md, n, err)
				continue
			}
			opID := id
			if n > 0 {
				opID += "_" + strconv.Itoa(n+1)
			}
			b.bindings = append(b.bindings, &oaBinding{tag: tag, md: md, rule: rule, n: n, opID: opID, method: method, tpl: tpl, isDefault: isDefault})
		}
	}
}

// omit leaves binding n of md out of the document, for err.
func (b *openAPIBuilder) omit(md protoreflect.MethodDescriptor, n int, err error) {
	b.omitted = append(b.omitted, fmt.Errorf("method %s: binding %d: %w", md.FullName(), n, err))
}

// place decides which bindings the document describes, and how. A route (an HTTP method and the
// requests a template matches) is described by the binding the REST router serves it with: an
// explicit rule's over a default route, a method's first binding of it; one that two methods bind,
// which the router refuses, by the first. The bindings of an HTTP method whose templates would give
// one path (with their names taken out: /v1/{} for "/v1/{name=shelves/*}" and
// "/v1/{name=authors/*}"), each of another route, are all written with their variables' leading
// literals in the path, so that each has one of its own; where no other template collides, a path
// stays as the template reads.
func (b *openAPIBuilder) place() {
	routes := make(map[string]*oaBinding, len(b.bindings)) // method and template key -> its binding
	served := func(ob *oaBinding) bool {
		route := ob.method + " " + ob.tpl.Key()
		other := routes[route]
		switch {
		case other == nil:
			routes[route] = ob
			return true
		case other.md.FullName() != ob.md.FullName() && !ob.isDefault:
			b.omit(ob.md, ob.n, fmt.Errorf("%s %s is bound twice: by %s and %s", ob.method, ob.tpl, other.opID, ob.opID))
		}
		return false // as the router, which serves the route by other
	}
	kept := make(map[*oaBinding]bool, len(b.bindings))
	for _, defaults := range []bool{false, true} {
		for _, ob := range b.bindings {
			if ob.isDefault == defaults && served(ob) {
				kept[ob] = true
			}
		}
	}
	b.bindings = slices.DeleteFunc(b.bindings, func(ob *oaBinding) bool { return !kept[ob] })

	shapes := make(map[string][]*oaBinding) // method and path shape -> its bindings
	for _, ob := range b.bindings {
		_, shape, _ := oaPath(ob.tpl, false)
		shapes[ob.method+" "+shape] = append(shapes[ob.method+" "+shape], ob)
	}
	for _, same := range shapes {
		for _, ob := range same {
			ob.expand = len(same) > 1
		}
	}
}

// binding adds the operation of one binding, unless the document has its path and HTTP method
// already.
func (b *openAPIBuilder) binding(ob *oaBinding) error {
	path, shape, vars := oaPath(ob.tpl, ob.expand)
	if other, at := b.operationAt(ob.method, path, shape); other != nil {
		return fmt.Errorf("%s %s: its path in the document, %s, is %s's already (OpenAPI holds paths that differ only in parameter names to be one)",
			ob.method, ob.tpl, at, other.OperationID)
	}
	params, bound, err := b.pathParams(vars, ob.md.Input())
	if err != nil {
		return err
	}
	op := &oaOperation{
		Tags:        []string{ob.tag},
		OperationID: ob.opID,
		Parameters:  params,
		Responses:   make(map[string]*oaResponse, 2),
		Deprecated:  oaDeprecated(ob.md) || oaDeprecated(ob.md.Parent()),
	}
	op.Summary, op.Description = oaSplitSummary(oaComments(ob.md))

	if err := b.request(op, ob.md, ob.rule, ob.method, bound); err != nil {
		return err
	}
	if err := b.responses(op, ob.md, ob.rule, ob.method); err != nil {
		return err
	}
	b.add(ob.method, path, shape, op)
	return nil
}

// request describes the request of op, a binding of md by rule: its body (the whole input message
// less what the path sets, one of its fields, raw bytes for a google.api.HttpBody, or a stream of
// NDJSON lines) and the query parameters for the fields neither the path nor the body carries.
// bound holds the fields the path sets; the body's are added.
func (b *openAPIBuilder) request(op *oaOperation, md protoreflect.MethodDescriptor, rule *annotations.HttpRule, method string, bound map[string]bool) error {
	in := md.Input()
	var body *oaSchema
	// A google.api.HttpBody body is raw bytes, but in a stream of request messages, each JSON.
	rawBody := false
	switch field := rule.GetBody(); field {
	case "":
	case "*":
		skip := oaTopLevel(bound)
		switch {
		case in.FullName() == httpBodyName && !md.IsStreamingClient():
			rawBody, body = true, new(oaSchema)
		case len(skip) > 0:
			body = b.schemas.object(in, skip) // inline: the message less what the path sets
		default:
			body = b.schemas.ref(in)
		}
	default:
		fd := fieldByName(in, field)
		if fd == nil {
			return fmt.Errorf("body field %q is not a field of %s", field, in.FullName())
		}
		mask := updateMaskField(in, method, []protoreflect.FieldDescriptor{fd})
		switch {
		case oaIsHTTPBody(fd) && !md.IsStreamingClient():
			rawBody, body = true, &oaSchema{Description: oaFieldDoc(fd)}
		case mask != nil && oaNestsFields(fd):
			// The front sets update_mask from the body's keys unless the query gives it: a body of
			// any of the fields is an update of those.
			body = b.schemas.fieldOf(fd, true)
			body.Description = oaJoin(body.Description, "The fields to change. Unless the query gives `"+mask.JSONName()+
				"`, the front sets it to the paths of the fields the body has (nested ones dotted, a list or map whole).")
		default:
			body = b.schemas.field(fd)
		}
		bound[field] = true
	}
	// The messages of a client stream all come in the body (or, both ways streaming, in WebSocket
	// frames): no query parameters then.
	if rule.GetBody() != "*" && !md.IsStreamingClient() {
		b.queryParams(&op.Parameters, in, "", "", bound, true, nil)
	}
	if body != nil {
		rb := &oaRequestBody{Required: true, Content: make(map[string]*oaMediaType, 1)}
		rb.Description, body.Description = body.Description, ""
		switch {
		case md.IsStreamingClient():
			rb.Description = oaJoin("Newline-delimited JSON: one request message a line.", rb.Description)
			rb.Content["application/x-ndjson"] = &oaMediaType{Schema: body}
		case rawBody:
			rb.Description = oaJoin(rb.Description, oaRawRequestDoc)
			rb.Content["*/*"] = &oaMediaType{Schema: oaBinary()}
		default:
			rb.Content["application/json"] = &oaMediaType{Schema: body}
		}
		op.RequestBody = rb
	}
	return nil
}

// responses describes the responses of op, a binding of md by rule: the output message or its
// response_body field, as JSON, raw bytes (google.api.HttpBody), a stream (NDJSON or Server-Sent
// Events), or a WebSocket for a bidi stream bound without a body; and the error every binding may
// answer.
func (b *openAPIBuilder) responses(op *oaOperation, md protoreflect.MethodDescriptor, rule *annotations.HttpRule, method string) error {
	out := md.Output()
	bidi := md.IsStreamingClient() && md.IsStreamingServer()
	// A google.api.HttpBody is raw bytes, in a stream too (bidi included: the front streams its
	// responses as a server stream's).
	var result *oaSchema
	rawResult := false
	if field := rule.GetResponseBody(); field != "" {
		fd := fieldByName(out, field)
		if fd == nil {
			return fmt.Errorf("response body field %q is not a field of %s", field, out.FullName())
		}
		if rawResult = oaIsHTTPBody(fd); !rawResult {
			result = b.schemas.field(fd)
		}
	} else if rawResult = out.FullName() == httpBodyName; !rawResult {
		result = b.schemas.ref(out)
	}
	switch {
	case bidi && op.RequestBody == nil:
		// Bound without a body (GET): the messages can only travel over a WebSocket.
		frames := "each frame carries one message as JSON, request messages from the client and response messages from the server."
		if rawResult {
			frames = "request messages travel as JSON text frames, and each response's google.api.HttpBody data as a binary frame."
		}
		op.Responses["101"] = &oaResponse{Description: "Switching Protocols: the request upgrades to a WebSocket; " + frames}
	case rawResult && md.IsStreamingServer():
		op.Responses["200"] = &oaResponse{Description: oaRawStreamDoc, Content: oaRawContent()}
	case md.IsStreamingServer():
		line := &oaSchema{Type: "object", Properties: map[string]*oaSchema{
			"result": result,
			"error":  oaRef(oaStatusName),
		}}
		desc := "A stream of messages: as newline-delimited JSON, one {\"result\": ...} a line, " +
			"and an {\"error\": ...} line if the stream fails; or, when the request's Accept prefers text/event-stream, as Server-Sent Events."
		if bidi {
			desc += " Both ways at once: the response streams while the request body does. The same path also " +
				"serves a WebSocket (a GET upgrade), one JSON message per text frame each way."
		}
		op.Responses["200"] = &oaResponse{
			Description: desc,
			Content: map[string]*oaMediaType{
				"application/x-ndjson": {Schema: line},
				"text/event-stream":    {Schema: &oaSchema{Type: "string"}},
			},
		}
	case strings.EqualFold(method, "HEAD"):
		op.Responses["200"] = &oaResponse{Description: "OK"} // a HEAD response has no body
	case rawResult:
		op.Responses["200"] = &oaResponse{Description: oaRawResponseDoc, Content: oaRawContent()}
	default:
		op.Responses["200"] = &oaResponse{Description: "OK", Content: oaJSONContent(result)}
	}
	op.Responses["default"] = &oaResponse{Description: "An error.", Content: oaJSONContent(oaRef(oaStatusName))}
	return nil
}

func oaJSONContent(s *oaSchema) map[string]*oaMediaType {
	return map[string]*oaMediaType{"application/json": {Schema: s}}
}

// A google.api.HttpBody travels as raw bytes: a request's body of any Content-Type is its data (the
// Content-Type its content_type), a response's data is the body under its content_type. Neither is
// the message's JSON, so the document gives them as bytes of any media type.
const (
	oaRawRequestDoc  = "Raw bytes of any Content-Type: the google.api.HttpBody's data, with the Content-Type as its content_type."
	oaRawResponseDoc = "Raw bytes: the google.api.HttpBody's data, with its content_type as the Content-Type (application/octet-stream when it has none)."
	oaRawStreamDoc   = "Raw bytes: the data of each google.api.HttpBody as it arrives, one after another, " +
		"with the first one's content_type as the Content-Type."
)

// oaBinary is the schema of raw bytes.
func oaBinary() *oaSchema { return &oaSchema{Type: "string", Format: "binary"} }

func oaRawContent() map[string]*oaMediaType {
	return map[string]*oaMediaType{"*/*": {Schema: oaBinary()}}
}

// oaIsHTTPBody reports whether a body or response_body field is a google.api.HttpBody, which the
// front reads and writes as raw bytes.
func oaIsHTTPBody(fd protoreflect.FieldDescriptor) bool {
	return !fd.IsList() && !fd.IsMap() && fd.Message() != nil && fd.Message().FullName() == httpBodyName
}

// operationAt returns the operation the document has for an HTTP method at path, or at the first
// path of its shape, where add would put another, and that path.
func (b *openAPIBuilder) operationAt(method, path, shape string) (*oaOperation, string) {
	if first, ok := b.shapes[shape]; ok {
		path = first.path
	}
	if item := b.paths[path]; item != nil {
		return *item.slot(method), path
	}
	return nil, path
}

// add puts op at path, renaming its path parameters when an earlier path has the same shape; the
// slot must be free (operationAt).
func (b *openAPIBuilder) add(method, path, shape string, op *oaOperation) {
	if first, ok := b.shapes[shape]; ok && first.path != path {
		path = first.path
		i := 0
		for _, p := range op.Parameters {
			if p.In != "path" {
				continue
			}
			if p.Name != first.names[i] {
				p.Description = oaJoin("Sets `"+p.Name+"`.", p.Description)
				p.Name = first.names[i]
			}
			i++
		}
	} else if !ok {
		var names []string
		for _, p := range op.Parameters {
			if p.In == "path" {
				names = append(names, p.Name)
			}
		}
		b.shapes[shape] = oaPathShape{path: path, names: names}
	}
	item := b.paths[path]
	if item == nil {
		item = new(oaPathItem)
		b.paths[path] = item
	}
	*item.slot(method) = op
}

// oaPathVar is one path parameter of the document: a template variable (or what of it follows the
// literals oaPath wrote into the path), or a wildcard outside any variable (variable nil).
type oaPathVar struct {
	name     string
	variable *Variable
	prefix   []Segment // the variable's leading literals, in the path before the parameter
	segs     []Segment // what the parameter matches
}

// oaPath converts a template to an OpenAPI path, its shape (the path with parameter names taken
// out) and its parameters, in order: a variable becomes one parameter named by its field path, a
// wildcard outside variables one of its own ("wildcard-1"). With expand, a variable over several
// segments that starts with literals has them written into the path but for its last segment, its
// parameter standing for the rest: "/v1/{name=shelves/*}" becomes "/v1/shelves/{name}".
func oaPath(tpl *Template, expand bool) (path, shape string, vars []oaPathVar) {
	var p, s strings.Builder
	literal := func(text string) {
		p.WriteString("/" + text)
		s.WriteString("/" + text)
	}
	param := func(pv oaPathVar) {
		p.WriteString("/{" + pv.name + "}")
		s.WriteString("/{}")
		vars = append(vars, pv)
	}
	wildcards := 0
	for i := 0; i < len(tpl.Segments); {
		var v *Variable
		for j := range tpl.Variables {
			if tpl.Variables[j].Start == i {
				v = &tpl.Variables[j]
			}
		}
		switch seg := tpl.Segments[i]; {
		case v != nil:
			segs := tpl.Segments[v.Start:v.End]
			k := 0
			for expand && k < len(segs)-1 && segs[k].Kind == Literal {
				literal(segs[k].Value)
				k++
			}
			param(oaPathVar{name: strings.Join(v.FieldPath, "."), variable: v, prefix: segs[:k], segs: segs[k:]})
			i = v.End
			continue
		case seg.Kind == Literal:
			literal(seg.Value)
		default:
			wildcards++
			param(oaPathVar{name: "wildcard-" + strconv.Itoa(wildcards), segs: tpl.Segments[i : i+1]})
		}
		i++
	}
	if len(tpl.Segments) == 0 {
		p.WriteByte('/')
		s.WriteByte('/')
	}
	if tpl.Verb != "" {
		p.WriteString(":" + tpl.Verb)
		s.WriteString(":" + tpl.Verb)
	}
	return p.String(), s.String(), vars
}

// pathParams describes the path parameters of a binding of a method taking md: a variable's by its
// field, with a pattern when it spans more than one segment, and what the field is when the path
// holds its leading literals. It also returns the field paths the path binds.
func (b *openAPIBuilder) pathParams(vars []oaPathVar, md protoreflect.MessageDescriptor) (params []*oaParameter, bound map[string]bool, err error) {
	bound = make(map[string]bool, len(vars))
	for _, pv := range vars {
		var schema *oaSchema
		var doc string
		switch {
		case pv.variable == nil && pv.segs[0].Kind == Wildcard:
			schema, doc = &oaSchema{Type: "string"}, "Any one path segment."
		case pv.variable == nil:
			schema, doc = &oaSchema{Type: "string", Pattern: oaSegmentsPattern(pv.segs)}, "Any number of path segments, at least one; its slashes are sent as they are, not percent-encoded."
		default:
			fd, err := oaFieldAt(md, pv.variable.FieldPath)
			if err != nil {
				return nil, nil, err
			}
			bound[pv.name] = true
			schema = b.schemas.field(fd)
			doc, schema.Description = schema.Description, ""
			if len(pv.prefix) > 0 {
				doc = oaJoin(doc, "`"+pv.name+"` is `"+oaSegmentsText(pv.prefix)+"/` followed by this value.")
			}
			if len(pv.segs) != 1 || pv.segs[0].Kind != Wildcard {
				schema.Pattern = oaSegmentsPattern(pv.segs)
				doc = oaJoin(doc, "Matches `"+oaSegmentsText(pv.segs)+"`; its slashes are sent as they are, not percent-encoded.")
			}
		}
		params = append(params, &oaParameter{Name: pv.name, In: "path", Description: doc, Required: true, Schema: schema})
	}
	return params, bound, nil
}

// oaFieldAt resolves a field path from a message; names are proto or JSON names, as the router takes them.
func oaFieldAt(md protoreflect.MessageDescriptor, path []string) (protoreflect.FieldDescriptor, error) {
	var fd protoreflect.FieldDescriptor
	for i, name := range path {
		if i > 0 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return nil, fmt.Errorf("field path %s: %s is not a message", strings.Join(path, "."), fd.Name())
			}
			md = fd.Message()
		}
		if fd = fieldByName(md, name); fd == nil {
			return nil, fmt.Errorf("field path %s: %s has no field %s", strings.Join(path, "."), md.FullName(), name)
		}
	}
	return fd, nil
}

// oaSegmentsPattern is a regular expression matching what a variable's segments match, as the
// router binds them: a "**" takes segments none of which is empty, so no value with a trailing or
// doubled slash. Alone, it takes at least one: an empty value would leave the path a trailing
// slash, which names no resource.
func oaSegmentsPattern(segs []Segment) string {
	var b strings.Builder
	b.WriteByte('^')
	for i, seg := range segs {
		switch seg.Kind {
		case Literal:
			if i > 0 {
				b.WriteByte('/')
			}
			b.WriteString(oaRegexpQuote(seg.Value))
		case Wildcard:
			if i > 0 {
				b.WriteByte('/')
			}
			b.WriteString("[^/]+")
		case DoubleWildcard:
			if i == 0 {
				b.WriteString("[^/]+")
			}
			b.WriteString("(/[^/]+)*")
		}
	}
	b.WriteByte('$')
	return b.String()
}

// oaRegexpQuote escapes the regular-expression metacharacters a template literal may hold.
func oaRegexpQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`\.+*?()|[]{}^$`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// oaSegmentsText is a variable's pattern as the template writes it.
func oaSegmentsText(segs []Segment) string {
	parts := make([]string, len(segs))
	for i, seg := range segs {
		switch seg.Kind {
		case Literal:
			parts[i] = seg.Value
		case Wildcard:
			parts[i] = "*"
		case DoubleWildcard:
			parts[i] = "**"
		}
	}
	return strings.Join(parts, "/")
}

// oaTopLevel returns the names of the fields a path binds directly.
func oaTopLevel(bound map[string]bool) map[protoreflect.Name]bool {
	var skip map[protoreflect.Name]bool
	for path := range bound {
		if !strings.Contains(path, ".") {
			if skip == nil {
				skip = make(map[protoreflect.Name]bool)
			}
			skip[protoreflect.Name(path)] = true
		}
	}
	return skip
}

// oaMaxQueryDepth bounds how deep query parameters reach into nested messages.
const oaMaxQueryDepth = 8

// queryParams appends a query parameter for every field of md that the path or body does not bind,
// reaching into nested messages with dotted names ("filter.role"). Parameters are named by JSON
// name; repeated fields are exploded arrays. Maps, repeated messages, and fields whose JSON value is
// an object or free-form (Struct, Value, ListValue, Any) cannot be written in a query and are left
// out, as are messages already on the way down (recursion).
func (b *openAPIBuilder) queryParams(params *[]*oaParameter, md protoreflect.MessageDescriptor, protoPrefix, jsonPrefix string,
	bound map[string]bool, required bool, outer []protoreflect.FullName) {
	if len(outer) >= oaMaxQueryDepth {
		return
	}
	outer = append(outer, md.FullName())
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		protoPath := protoPrefix + string(fd.Name())
		if bound[protoPath] || fd.IsMap() {
			continue
		}
		if m := fd.Message(); m != nil && !oaQueryable(m) {
			if fd.IsList() || oaWellKnown(m.FullName()) != nil || slices.Contains(outer, m.FullName()) || m.FullName() == oaAnyName {
				continue
			}
			b.queryParams(params, m, protoPath+".", jsonPrefix+fd.JSONName()+".", bound, required && oaRequired(fd), outer)
			continue
		}
		schema := b.schemas.field(fd)
		p := &oaParameter{
			Name:        jsonPrefix + fd.JSONName(),
			In:          "query",
			Description: schema.Description,
			Required:    required && oaRequired(fd),
			Deprecated:  schema.Deprecated,
			Explode:     fd.IsList(),
			Schema:      schema,
		}
		schema.Description, schema.Deprecated, schema.Oneof = "", false, ""
		*params = append(*params, p)
	}
}
