package transcoder

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/routing"
)

// Binding is one HTTP binding of one method, compiled once per snapshot: everything a request on it
// needs that does not depend on the request. The field descriptors of its path variables, of its body
// and response_body fields, and the fields the query may not set are resolved here, never per request.
type Binding struct {
	method     protoreflect.MethodDescriptor
	fullMethod string // "/pkg.Service/Method"
	kind       routing.CallKind
	httpMethod string
	template   *Template
	index      int // 0: the rule, n: additional_bindings[n-1]; -1: the default route

	body       string // "", "*" or the body field's path as written
	bodyFields []protoreflect.FieldDescriptor
	bodyRaw    bool // the body is a google.api.HttpBody: raw bytes with their content type

	responseBody   string
	responseFields []protoreflect.FieldDescriptor
	responseRaw    bool // the response (or its response_body field) is a google.api.HttpBody

	vars  []pathVar
	bound [][]protoreflect.FieldDescriptor // set by the path or the body: the query may not touch them
	// updateMask is the request's update_mask field, filled from the body's JSON keys on a PATCH
	// whose body is one field and whose query sets no mask (as grpc-gateway does).
	updateMask protoreflect.FieldDescriptor

	// pathOnly: no body, and every path variable is a scalar field (messages on the way allowed):
	// a request without a query is encoded straight to the wire (pathRequest).
	pathOnly bool

	// responseJSON renders the whole response straight from its wire bytes (nil with response_body
	// or an HttpBody response): see wirejson.go.
	responseJSON *msgCodec
	// requestJSON transcodes a JSON body straight to the wire (nil when the binding cannot use it):
	// see jsonwire.go.
	requestJSON *jsonRequest

	types *resolver
}

// pathVar is one path variable: the segments [start, end) of the path set the field path.
type pathVar struct {
	name   string // as written in the template: "user.id"
	fields []protoreflect.FieldDescriptor
	start  int
	end    int
	tail   bool // ends with "**": runs to the end of the path
	multi  bool // more than one segment: an encoded '/' stays encoded
}

const httpBodyName = "google.api.HttpBody"

// compileBinding compiles one HttpRule of method m; index is its place among the method's rules.
func compileBinding(m protoreflect.MethodDescriptor, rule *annotations.HttpRule, index int, types *resolver, cs codecs) (*Binding, error) {
	httpMethod, path := RulePattern(rule)
	if httpMethod == "" || path == "" {
		return nil, fmt.Errorf("method %s: google.api.http binding has no method and path", m.FullName())
	}
	tpl, err := ParseTemplate(path)
	if err != nil {
		return nil, fmt.Errorf("method %s: %w", m.FullName(), err)
	}
	b := newBinding(m, httpMethod, tpl, index, types)
	for _, v := range tpl.Variables {
		fields, err := FieldPath(m.Input(), v.FieldPath)
		if err != nil {
			return nil, fmt.Errorf("method %s: path %s: %w", m.FullName(), path, err)
		}
		last := fields[len(fields)-1]
		if last.IsList() || last.IsMap() {
			return nil, fmt.Errorf("method %s: path %s: field %s is repeated and cannot be bound to a path segment", m.FullName(), path, last.FullName())
		}
		if md := last.Message(); md != nil && !strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
			return nil, fmt.Errorf("method %s: path %s: field %s is a message and cannot be bound to a path segment", m.FullName(), path, last.FullName())
		}
		tail := v.End == len(tpl.Segments) && tpl.Segments[v.End-1].Kind == DoubleWildcard
		b.vars = append(b.vars, pathVar{
			name:   strings.Join(v.FieldPath, "."),
			fields: fields,
			start:  v.Start,
			end:    v.End,
			tail:   tail,
			multi:  tail || v.End-v.Start > 1,
		})
		b.bound = append(b.bound, fields)
	}
	if err := b.setBody(rule.GetBody()); err != nil {
		return nil, err
	}
	if rb := rule.GetResponseBody(); rb != "" {
		fields, err := FieldPath(m.Output(), strings.Split(rb, "."))
		if err != nil {
			return nil, fmt.Errorf("method %s: response_body %q: %w", m.FullName(), rb, err)
		}
		b.responseBody, b.responseFields = rb, fields
		last := fields[len(fields)-1]
		b.responseRaw = !last.IsList() && !last.IsMap() && last.Message() != nil && last.Message().FullName() == httpBodyName
	} else {
		b.responseRaw = m.Output().FullName() == httpBodyName
		if !b.responseRaw {
			b.responseJSON = cs.get(m.Output())
		}
	}
	b.pathOnly = b.body == "" && !slices.ContainsFunc(b.vars, func(v pathVar) bool { return v.fields[len(v.fields)-1].Message() != nil })
	b.updateMask = updateMaskField(m.Input(), httpMethod, b.bodyFields)
	return b, nil
}

// updateMaskField returns the request's update_mask when a binding of httpMethod whose body is the
// field path body has the front fill it from the body's JSON keys (fillUpdateMask): on a PATCH whose
// body is one field, other than update_mask, of a request with a google.protobuf.FieldMask
// update_mask. It returns nil otherwise.
func updateMaskField(in protoreflect.MessageDescriptor, httpMethod string, body []protoreflect.FieldDescriptor) protoreflect.FieldDescriptor {
	if httpMethod != "PATCH" || len(body) == 0 {
		return nil
	}
	fd := in.Fields().ByName("update_mask")
	if fd == nil || fd.IsList() || fd.Message() == nil || fd.Message().FullName() != "google.protobuf.FieldMask" || body[0] == fd {
		return nil
	}
	return fd
}

// defaultBinding is the route of a method without an HttpRule: POST /{package.Service}/{Method}, the
// whole request as the body.
func defaultBinding(m protoreflect.MethodDescriptor, types *resolver, cs codecs) (*Binding, error) {
	path := "/" + string(m.Parent().FullName()) + "/" + string(m.Name())
	tpl, err := ParseTemplate(path)
	if err != nil {
		return nil, fmt.Errorf("method %s: default route: %w", m.FullName(), err)
	}
	b := newBinding(m, "POST", tpl, -1, types)
	b.responseRaw = m.Output().FullName() == httpBodyName
	if !b.responseRaw {
		b.responseJSON = cs.get(m.Output())
	}
	return b, b.setBody("*")
}

func newBinding(m protoreflect.MethodDescriptor, httpMethod string, tpl *Template, index int, types *resolver) *Binding {
	return &Binding{
		method:     m,
		fullMethod: "/" + string(m.Parent().FullName()) + "/" + string(m.Name()),
		kind:       routing.KindOf(m),
		httpMethod: httpMethod,
		template:   tpl,
		index:      index,
		types:      types,
	}
}

func (b *Binding) setBody(body string) error {
	b.body = body
	switch body {
	case "":
	case "*":
		b.bodyRaw = b.method.Input().FullName() == httpBodyName
	default:
		fields, err := FieldPath(b.method.Input(), strings.Split(body, "."))
		if err != nil {
			return fmt.Errorf("method %s: body %q: %w", b.method.FullName(), body, err)
		}
		b.bodyFields = fields
		b.bound = append(b.bound, fields)
		last := fields[len(fields)-1]
		b.bodyRaw = !last.IsList() && !last.IsMap() && last.Message() != nil && last.Message().FullName() == httpBodyName
	}
	return nil
}

// FieldPath resolves a dotted field path, each name a proto name or a json_name; every field but the
// last must be a singular message.
func FieldPath(md protoreflect.MessageDescriptor, names []string) ([]protoreflect.FieldDescriptor, error) {
	out := make([]protoreflect.FieldDescriptor, 0, len(names))
	for i, name := range names {
		fd := fieldByName(md, name)
		if fd == nil {
			return nil, fmt.Errorf("%s has no field %q", md.FullName(), name)
		}
		out = append(out, fd)
		if i < len(names)-1 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return nil, fmt.Errorf("field %s is not a singular message", fd.FullName())
			}
			md = fd.Message()
		}
	}
	return out, nil
}

// fieldByName finds a field by proto name, then by JSON name.
func fieldByName(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	fields := md.Fields()
	if fd := fields.ByName(protoreflect.Name(name)); fd != nil {
		return fd
	}
	return fields.ByJSONName(name)
}

// Method is the bound method.
func (b *Binding) Method() protoreflect.MethodDescriptor { return b.method }

// FullMethod is the gRPC name of the bound method, "/pkg.Service/Method".
func (b *Binding) FullMethod() string { return b.fullMethod }

// Kind is the streaming shape of the bound method.
func (b *Binding) Kind() routing.CallKind { return b.kind }

// HTTPMethod is the binding's HTTP method ("GET", or a custom kind upper-cased).
func (b *Binding) HTTPMethod() string { return b.httpMethod }

// Template is the binding's path template.
func (b *Binding) Template() *Template { return b.template }

// Index is the binding's place among its method's rules: 0 for the rule itself, n for its n-th
// additional binding, -1 for the default POST /{package.Service}/{Method} route.
func (b *Binding) Index() int { return b.index }

// Body is the rule's body: "" (no body), "*" (the whole request) or a field path.
func (b *Binding) Body() string { return b.body }

// RawBody reports whether the front passes the request body upstream as it is: the data of a
// google.api.HttpBody (the request, or its body field), of any Content-Type, which the front neither
// decodes nor refuses. A method that streams requests reads its HttpBody messages as JSON, as any
// other message, so its body is not raw.
func (b *Binding) RawBody() bool { return b.bodyRaw && !b.method.IsStreamingClient() }

// ResponseBody is the rule's response_body: "" (the whole response) or a field path.
func (b *Binding) ResponseBody() string { return b.responseBody }

// PathVariables are the field paths the template binds, as written ("user.id"), in template order.
func (b *Binding) PathVariables() []string {
	out := make([]string, len(b.vars))
	for i, v := range b.vars {
		out[i] = v.name
	}
	return out
}

// QueryParameter is a field a query parameter may set: every field not bound by the path or the
// body. Nested message fields are reached with dots ("filter.role"); either the proto names or the
// JSON names may be used.
type QueryParameter struct {
	Name     string // proto names: "filter.role"
	JSONName string // JSON names: "filter.role"
	Field    protoreflect.FieldDescriptor
}

// maxQueryDepth bounds how deep QueryParameters lists nested message fields (the query itself may
// reach deeper).
const maxQueryDepth = 4

// QueryParameters lists the fields the query may set: none when the body is "*". Singular messages
// other than the well-known types are listed by their fields, recursive types once per path.
func (b *Binding) QueryParameters() []QueryParameter {
	if b.body == "*" {
		return nil
	}
	var out []QueryParameter
	var walk func(md protoreflect.MessageDescriptor, prefix []protoreflect.FieldDescriptor, name, jsonName string, seen []protoreflect.FullName)
	walk = func(md protoreflect.MessageDescriptor, prefix []protoreflect.FieldDescriptor, name, jsonName string, seen []protoreflect.FullName) {
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			path := append(slices.Clip(prefix), fd)
			bound, contains := b.boundState(path)
			if bound {
				continue
			}
			n, j := name+string(fd.Name()), jsonName+fd.JSONName()
			nested := fd.Message() != nil && !fd.IsList() && !fd.IsMap() && !isWellKnown(fd.Message().FullName())
			if !nested {
				if !contains {
					out = append(out, QueryParameter{Name: n, JSONName: j, Field: fd})
				}
				continue
			}
			if len(path) >= maxQueryDepth || slices.Contains(seen, fd.Message().FullName()) {
				continue
			}
			walk(fd.Message(), path, n+".", j+".", append(slices.Clip(seen), fd.Message().FullName()))
		}
	}
	walk(b.method.Input(), nil, "", "", []protoreflect.FullName{b.method.Input().FullName()})
	return out
}

// boundState reports whether path is bound (it, or a field containing it, is set by the path or
// body) and whether it contains a bound field.
func (b *Binding) boundState(path []protoreflect.FieldDescriptor) (bound, contains bool) {
	for _, bp := range b.bound {
		n := min(len(bp), len(path))
		if !slices.Equal(bp[:n], path[:n]) {
			continue
		}
		if len(bp) <= len(path) {
			return true, false
		}
		contains = true
	}
	return false, contains
}

func isWellKnown(name protoreflect.FullName) bool {
	return strings.HasPrefix(string(name), "google.protobuf.")
}

// streamsResponse reports whether the method answers with a stream of messages.
func (b *Binding) streamsResponse() bool { return b.method.IsStreamingServer() }
