package config

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// GraphQL configures the GraphQL front (/graphql) and the schema it serves, which the gateway
// generates from the registered services. Every key is optional; the zero section serves the
// conventions with the defaults below. A limit of -1 turns that limit off.
type GraphQL struct {
	// MaxDepth bounds how deeply an operation's fields nest. Default
	// DefaultGraphQLMaxDepth.
	MaxDepth int `yaml:"max_depth"`
	// MaxComplexity bounds an operation's cost: each field costs 1, each
	// field that calls a method (root fields and links) 10. Default
	// DefaultGraphQLMaxComplexity.
	MaxComplexity int `yaml:"max_complexity"`
	// MaxAliases bounds the aliased fields of an operation. Default
	// DefaultGraphQLMaxAliases.
	MaxAliases int `yaml:"max_aliases"`
	// MaxRootFields bounds the root fields of an operation. Default
	// DefaultGraphQLMaxRootFields.
	MaxRootFields int `yaml:"max_root_fields"`
	// MaxFields bounds the fields and fragment spreads validation checks
	// (a fragment's once for each operation that spreads it), and a hundred
	// times it the cost of comparing the fields sharing a response name
	// (a pair 1, a conflicting pair 50),
	// counted before it runs: validation takes time that grows with the
	// square of the fields sharing a response name. Default
	// DefaultGraphQLMaxFields.
	MaxFields int `yaml:"max_fields"`
	// MaxFragments bounds the fragments a document defines, counted
	// before it is validated: validation takes time that grows with the
	// square of the fragments spread in one selection set. Default
	// DefaultGraphQLMaxFragments.
	MaxFragments int `yaml:"max_fragments"`
	// MaxDocumentBytes bounds a GraphQL document's size; a request body
	// may be four times that, for variables. Default
	// DefaultGraphQLMaxDocumentBytes.
	MaxDocumentBytes ByteSize `yaml:"max_document_bytes"`
	// MaxConcurrentCalls bounds the upstream calls one operation makes at
	// once. Default DefaultGraphQLMaxConcurrentCalls.
	MaxConcurrentCalls int `yaml:"max_concurrent_calls"`
	// Introspection answers __schema and __type. Default true; production
	// may turn it off.
	Introspection *bool `yaml:"introspection"`
	// QueryPage serves browsers a small self-contained query page at
	// /graphql (a GET with Accept: text/html and no query). Default true;
	// never while introspection is off, which the page's schema view
	// needs.
	QueryPage *bool `yaml:"query_page"`
	// APQ accepts automatic persisted queries: a client may send a
	// document's SHA-256 alone once the gateway has seen the document.
	// Default false. Not with PersistedOnly.
	APQ bool `yaml:"apq"`
	// APQCacheSize is how many documents APQ remembers. Default
	// DefaultGraphQLAPQCacheSize; only with APQ.
	APQCacheSize int `yaml:"apq_cache_size"`
	// PersistedOperations are documents clients may send by the hex
	// SHA-256 of their text.
	PersistedOperations PersistedOperations `yaml:"persisted_operations"`
	// PersistedOnly runs only the persisted operations (sent by hash or in
	// full) and refuses every other document: the allowlist mode for
	// production. Default false.
	PersistedOnly bool `yaml:"persisted_only"`
	// Links add fields that resolve by calling another method, in file
	// order. A link replaces one of the same type and field declared in
	// the services' .proto options.
	Links []Link `yaml:"links"`
	// Overrides rename, move between query and mutation, or hide the root
	// fields of a service or of a method. They win over the services'
	// .proto options. As a link, an override may name a service or method
	// no registration has yet: it applies once one brings it.
	Overrides []Override `yaml:"overrides"`
	// Prefixes map a protobuf package to a prefix for the GraphQL names of
	// its messages and enums ({shop.legacy.v1: Legacy} makes User
	// LegacyUser), for packages whose names would collide with another's.
	Prefixes map[string]string `yaml:"prefixes"`
}

// Defaults of the GraphQL section.
const (
	DefaultGraphQLMaxDepth                    = 12
	DefaultGraphQLMaxComplexity               = 2000
	DefaultGraphQLMaxAliases                  = 30
	DefaultGraphQLMaxRootFields               = 20
	DefaultGraphQLMaxFields                   = 2000
	DefaultGraphQLMaxFragments                = 500
	DefaultGraphQLMaxDocumentBytes   ByteSize = 64 * KiB
	DefaultGraphQLMaxConcurrentCalls          = 32
	DefaultGraphQLAPQCacheSize                = 1000
)

// IntrospectionOn reports whether introspection is on: Introspection, or
// its default, true.
func (g GraphQL) IntrospectionOn() bool { return g.Introspection == nil || *g.Introspection }

// QueryPageOn reports whether the query page is served: QueryPage, or its
// default, true, while introspection is on.
func (g GraphQL) QueryPageOn() bool {
	return (g.QueryPage == nil || *g.QueryPage) && g.IntrospectionOn()
}

// PersistedOperations are the operations clients may send by hash: those of
// a file, and those written inline.
type PersistedOperations struct {
	// File is a JSON file of operations: an object mapping each
	// document's hex SHA-256 to its text (as Relay and GraphQL Code
	// Generator write them), or an Apollo persisted query manifest
	// ({"format": "apollo-persisted-query-manifest", "operations":
	// [{"id", "body"}...]}). Parse reads it, so a reload re-reads it.
	File string `yaml:"file"`
	// Operations are written inline; each may be bound to a REST route.
	Operations []PersistedOperation `yaml:"operations"`
	// FromFile holds the operations of File by hash, as Parse read them.
	FromFile map[string]string `yaml:"-"`
}

// PersistedOperation is one operation written in the config file.
type PersistedOperation struct {
	// Name identifies the operation in problems and logs: required,
	// unique, letters, digits, '_', '.' and '-'.
	Name string `yaml:"name"`
	// Document is the GraphQL document. Clients send its SHA-256: of the
	// text as written, without its trailing line breaks, or without them
	// and with one "\n" (Hash, TrimmedHash and NewlineHash).
	Document string `yaml:"document"`
	// OperationName selects the operation a REST route runs when the
	// document holds several.
	OperationName string `yaml:"operation_name"`
	// REST, when set, binds the operation to a REST route.
	REST RESTRoute `yaml:"rest"`
}

// Hash is the hex SHA-256 of the operation's document as written, the
// key it is registered by.
func (o PersistedOperation) Hash() string {
	sum := sha256.Sum256([]byte(o.Document))
	return hex.EncodeToString(sum[:])
}

// TrimmedHash is the hex SHA-256 of the operation's document without its
// trailing line breaks, which a YAML block (document: |) ends with and a
// client hashing the text it sends usually has not. The GraphQL front
// finds the operation by this hash, Hash and NewlineHash.
func (o PersistedOperation) TrimmedHash() string {
	sum := sha256.Sum256([]byte(strings.TrimRight(o.Document, "\r\n")))
	return hex.EncodeToString(sum[:])
}

// NewlineHash is the hex SHA-256 of the operation's document without its
// trailing line breaks and with one "\n": the text of a .graphql file, as
// sha256sum hashes it, whether the document is written without a final
// line break (document: |-, or quoted) or with several (|+).
func (o PersistedOperation) NewlineHash() string {
	sum := sha256.Sum256([]byte(strings.TrimRight(o.Document, "\r\n") + "\n"))
	return hex.EncodeToString(sum[:])
}

// RESTRoute binds a persisted operation to a REST route: a request to it
// runs the operation with the path variables, query parameters and (for a
// method with a body) the JSON body's fields as its variables, and answers
// with the operation's data.
type RESTRoute struct {
	// Method is GET, POST, PUT, PATCH or DELETE. Default GET.
	Method string `yaml:"method"`
	// Path is "/" and segments, each a literal or a {variable} of the
	// operation taking the whole segment: "/v1/dashboard/{userId}".
	Path string `yaml:"path"`
}

// Link adds a field to the GraphQL type of a message, resolved by calling
// Method with request fields taken from the message.
type Link struct {
	// Type is the message's full name: "shop.orders.v1.Order".
	Type string `yaml:"type"`
	// Field is the new field's GraphQL name: "user".
	Field string `yaml:"field"`
	// Method is the unary method called: "shop.users.v1.UserService/GetUser".
	Method string `yaml:"method"`
	// Args map request fields to field paths of Type, dotted for nested
	// messages: {id: user_id}. At least one.
	Args map[string]string `yaml:"args"`
	// ResultField, when set, names the response field the link returns
	// instead of the whole response ("orders"). Not with Batch.
	ResultField string `yaml:"result_field"`
	// Batch, when set, collects the link's calls within one request into
	// calls of a batch method. The link then has exactly one argument,
	// the key.
	Batch *BatchLink `yaml:"batch"`
}

// BatchLink is the batch method of a link: Method takes the keys in the
// repeated RequestField and answers with the results in the repeated
// ResponseField, each holding its key in KeyField.
type BatchLink struct {
	Method        string `yaml:"method"`
	RequestField  string `yaml:"request_field"`
	ResponseField string `yaml:"response_field"`
	KeyField      string `yaml:"key_field"`
}

// Override changes the root fields of one service or one method. Exactly
// one of Service and Method is set, and at least one of Name, Operation
// and Hide.
type Override struct {
	// Service is a service's full name: "shop.users.v1.UserService".
	Service string `yaml:"service"`
	// Method is a method: "shop.users.v1.UserService/GetUser".
	Method string `yaml:"method"`
	// Name is a method's root field name or, for a service, a prefix for
	// its methods' root field names ("users": usersGetUser).
	Name string `yaml:"name"`
	// Operation moves unary methods to query or mutation.
	Operation string `yaml:"operation"`
	// Hide leaves the method, or every method of the service, out of the
	// schema; links may still call it.
	Hide bool `yaml:"hide"`
}

// complete fills the defaults of the GraphQL section.
func (g *GraphQL) complete() {
	setDefault(&g.MaxDepth, DefaultGraphQLMaxDepth)
	setDefault(&g.MaxComplexity, DefaultGraphQLMaxComplexity)
	setDefault(&g.MaxAliases, DefaultGraphQLMaxAliases)
	setDefault(&g.MaxRootFields, DefaultGraphQLMaxRootFields)
	setDefault(&g.MaxFields, DefaultGraphQLMaxFields)
	setDefault(&g.MaxFragments, DefaultGraphQLMaxFragments)
	setDefault(&g.MaxDocumentBytes, DefaultGraphQLMaxDocumentBytes)
	setDefault(&g.MaxConcurrentCalls, DefaultGraphQLMaxConcurrentCalls)
	if g.APQ {
		setDefault(&g.APQCacheSize, DefaultGraphQLAPQCacheSize)
	}
	for i := range g.PersistedOperations.Operations {
		r := &g.PersistedOperations.Operations[i].REST
		if r.Path != "" {
			r.Method = strings.ToUpper(r.Method)
			setDefault(&r.Method, "GET")
		}
	}
}

// graphql checks the GraphQL section and reads its persisted operations
// file.
func (v *validator) graphql(g *GraphQL) {
	const path = "graphql"
	for _, l := range []struct {
		key string
		n   int64
	}{
		{"max_depth", int64(g.MaxDepth)}, {"max_complexity", int64(g.MaxComplexity)},
		{"max_aliases", int64(g.MaxAliases)}, {"max_root_fields", int64(g.MaxRootFields)},
		{"max_fields", int64(g.MaxFields)}, {"max_fragments", int64(g.MaxFragments)},
		{"max_document_bytes", int64(g.MaxDocumentBytes)}, {"max_concurrent_calls", int64(g.MaxConcurrentCalls)},
	} {
		if p := field(path, l.key); l.n < -1 || l.n == 0 && v.has(p) {
			v.fieldf(p, "want a positive limit, or -1 for none, got %d", l.n)
		}
	}
	if g.QueryPage != nil && *g.QueryPage && !g.IntrospectionOn() {
		v.fieldf(field(path, "query_page"), "only used with introspection on: the page is never served while introspection is off")
	}
	switch p := field(path, "apq_cache_size"); {
	case g.APQCacheSize < 0 || g.APQCacheSize == 0 && v.has(p):
		v.fieldf(p, "want a positive number, got %d", g.APQCacheSize)
	case g.APQCacheSize > 0 && !g.APQ:
		v.fieldf(p, "only used with apq: true")
	}

	ops := &g.PersistedOperations
	opsPath := field(path, "persisted_operations")
	if ops.File != "" {
		v.file(field(opsPath, "file"), ops.File)
		if !v.blamed[field(opsPath, "file")] {
			var err error
			if ops.FromFile, err = readPersisted(ops.File); err != nil {
				v.fieldf(field(opsPath, "file"), "%v", err)
			}
		}
	}
	v.persisted(opsPath, ops.Operations)
	switch p := field(path, "persisted_only"); {
	case g.PersistedOnly && g.APQ:
		v.fieldf(p, "excludes apq: APQ would let clients add operations")
	case g.PersistedOnly && ops.File == "" && len(ops.Operations) == 0:
		v.fieldf(p, "needs persisted_operations (a file or operations): it would refuse everything")
	}

	links := map[string]string{}
	for i, l := range g.Links {
		v.link(index(field(path, "links"), i), l, links)
	}
	overrides := map[string]string{}
	for i, o := range g.Overrides {
		v.override(index(field(path, "overrides"), i), o, overrides)
	}
	for _, pkg := range slices.Sorted(maps.Keys(g.Prefixes)) {
		p := field(field(path, "prefixes"), printable(pkg))
		switch prefix := g.Prefixes[pkg]; {
		case !validFullName(pkg):
			v.fieldf(p, "invalid package name %q: want a protobuf package such as \"shop.legacy.v1\"", pkg)
		case !graphqlName(prefix):
			v.fieldf(p, "invalid prefix %q: want the start of a GraphQL name ([_A-Za-z][_0-9A-Za-z]*)", prefix)
		}
	}
}

// persisted checks the inline persisted operations and their REST routes.
func (v *validator) persisted(path string, ops []PersistedOperation) {
	names := map[string]string{}
	routes := map[string]string{}
	for i, op := range ops {
		p := index(field(path, "operations"), i)
		switch np := field(p, "name"); {
		case op.Name == "":
			v.fieldf(np, "required")
		case !operationName(op.Name):
			v.fieldf(np, "invalid operation name %q: want letters, digits, '_', '.' and '-'", op.Name)
		case names[op.Name] != "":
			v.fieldf(np, "duplicate operation name %q (first at line %d)", op.Name, v.line(names[op.Name]))
		default:
			names[op.Name] = np
		}
		dp := field(p, "document")
		if strings.TrimSpace(op.Document) == "" {
			v.fieldf(dp, "required")
			continue
		}
		doc, err := parser.ParseQuery(&ast.Source{Input: op.Document})
		if err != nil {
			v.fieldf(dp, "%s", documentError(err))
			continue
		}
		var sel *ast.OperationDefinition
		switch on := field(p, "operation_name"); {
		case op.OperationName != "":
			if sel = doc.Operations.ForName(op.OperationName); sel == nil {
				v.fieldf(on, "the document has no operation %q", op.OperationName)
				continue
			}
		case len(doc.Operations) == 1:
			sel = doc.Operations[0]
		case op.REST.Path != "":
			v.fieldf(on, "required: the document holds %d operations; name the one the REST route runs", len(doc.Operations))
			continue
		}
		v.restRoute(field(p, "rest"), op.REST, sel, routes)
	}
}

// restRoute checks the REST route of a persisted operation that runs op.
func (v *validator) restRoute(path string, r RESTRoute, op *ast.OperationDefinition, routes map[string]string) {
	if r.Path == "" {
		if r.Method != "" {
			v.fieldf(field(path, "path"), "required with method")
		}
		return
	}
	method := strings.ToUpper(r.Method)
	switch method {
	case "":
		method = "GET"
	case "GET", "POST", "PUT", "PATCH", "DELETE":
	default:
		v.fieldf(field(path, "method"), "unknown method %q (want GET, POST, PUT, PATCH or DELETE)", r.Method)
	}
	pp := field(path, "path")
	if op.Operation == ast.Subscription {
		v.fieldf(path, "a subscription cannot be a REST route")
		return
	}
	vars, key, err := routeTemplate(r.Path)
	if err != nil {
		v.fieldf(pp, "%v", err)
		return
	}
	for _, name := range vars {
		if op.VariableDefinitions.ForName(name) == nil {
			v.fieldf(pp, "{%s} is not a variable of the operation (declare $%s)", name, name)
			return
		}
	}
	key = method + " " + key
	if prev, dup := routes[key]; dup {
		v.fieldf(pp, "%s %s is bound twice (first at line %d)", method, r.Path, v.line(prev))
		return
	}
	routes[key] = pp
}

// routeTemplate checks a REST route's path and returns its variables and
// its key: the path with every variable as "*".
func routeTemplate(path string) ([]string, string, error) {
	if !strings.HasPrefix(path, "/") || path == "/" {
		return nil, "", fmt.Errorf("want a path such as /v1/dashboard/{userId}, got %q", path)
	}
	var vars []string
	var key strings.Builder
	for seg := range strings.SplitSeq(path[1:], "/") {
		key.WriteByte('/')
		switch {
		case seg == "":
			return nil, "", fmt.Errorf("%q has an empty segment", path)
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
			name := seg[1 : len(seg)-1]
			if !graphqlName(name) || slices.Contains(vars, name) {
				return nil, "", fmt.Errorf("%q: {%s} is not a variable name, or repeats", path, name)
			}
			vars = append(vars, name)
			key.WriteByte('*')
		default:
			for _, c := range seg {
				if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-._~", c)) {
					return nil, "", fmt.Errorf("%q: segment %q: a literal holds letters, digits and -._~ only; a variable is {name}", path, seg)
				}
			}
			key.WriteString(seg)
		}
	}
	return vars, key.String(), nil
}

// link checks one link; seen maps "type.field" to the path of its first link.
func (v *validator) link(path string, l Link, seen map[string]string) {
	tp, fp := field(path, "type"), field(path, "field")
	switch {
	case l.Type == "":
		v.fieldf(tp, "required")
	case !validFullName(l.Type):
		v.fieldf(tp, "invalid message name %q: want a full name such as \"shop.orders.v1.Order\"", l.Type)
	}
	switch key := l.Type + "." + l.Field; {
	case l.Field == "":
		v.fieldf(fp, "required")
	case !graphqlName(l.Field):
		v.fieldf(fp, "invalid field name %q: want a GraphQL name ([_A-Za-z][_0-9A-Za-z]*)", l.Field)
	case seen[key] != "":
		v.fieldf(fp, "%s is linked twice (first at line %d)", key, v.line(seen[key]))
	default:
		seen[key] = fp
	}
	v.methodName(field(path, "method"), l.Method)
	ap := field(path, "args")
	if len(l.Args) == 0 {
		v.fieldf(ap, "required: map request fields to fields of %s, such as {id: user_id}", cmp.Or(l.Type, "the type"))
	}
	for _, name := range slices.Sorted(maps.Keys(l.Args)) {
		p := field(ap, printable(name))
		switch src := l.Args[name]; {
		case !validIdent(name):
			v.fieldf(p, "invalid request field %q", name)
		case !validFullName(src):
			v.fieldf(p, "invalid field path %q: want a field of %s, dotted for nested messages", src, cmp.Or(l.Type, "the type"))
		}
	}
	if l.ResultField != "" && !validIdent(l.ResultField) {
		v.fieldf(field(path, "result_field"), "invalid field name %q", l.ResultField)
	}
	if b := l.Batch; b != nil {
		bp := field(path, "batch")
		if l.ResultField != "" {
			v.fieldf(field(path, "result_field"), "not with batch: the batch results are of the method's response type")
		}
		if len(l.Args) > 1 {
			v.fieldf(ap, "a batch link takes exactly one argument, its key; it has %d", len(l.Args))
		}
		v.methodName(field(bp, "method"), b.Method)
		for _, f := range []struct{ key, value string }{
			{"request_field", b.RequestField}, {"response_field", b.ResponseField}, {"key_field", b.KeyField},
		} {
			switch p := field(bp, f.key); {
			case f.value == "":
				v.fieldf(p, "required")
			case !validIdent(f.value):
				v.fieldf(p, "invalid field name %q", f.value)
			}
		}
	}
}

// override checks one override; seen maps the service or method to the path
// of its first override.
func (v *validator) override(path string, o Override, seen map[string]string) {
	v.exactlyOne(path, []string{"service", "method"}, []bool{o.Service != "", o.Method != ""})
	target := ""
	switch {
	case o.Service != "" && o.Method != "":
	case o.Service != "":
		target = o.Service
		if !validFullName(o.Service) {
			v.fieldf(field(path, "service"), "invalid service name %q: want a full name such as \"pkg.Service\"", o.Service)
		}
	case o.Method != "":
		target = strings.TrimPrefix(o.Method, "/")
		v.methodName(field(path, "method"), o.Method)
	}
	if target != "" {
		if prev, dup := seen[target]; dup {
			v.fieldf(path, "%s is overridden twice (first at line %d)", target, v.line(prev))
		} else {
			seen[target] = path
		}
	}
	if o.Name != "" && !graphqlName(o.Name) {
		v.fieldf(field(path, "name"), "invalid name %q: want a GraphQL name ([_A-Za-z][_0-9A-Za-z]*)", o.Name)
	}
	switch o.Operation {
	case "", "query", "mutation":
	default:
		v.fieldf(field(path, "operation"), "unknown operation %q (want query or mutation)", o.Operation)
	}
	if o.Name == "" && o.Operation == "" && !o.Hide {
		v.fieldf(path, "changes nothing: set name, operation or hide")
	}
}

// methodName checks a required "pkg.Service/Method" field.
func (v *validator) methodName(path, m string) {
	switch {
	case m == "":
		v.fieldf(path, "required")
	case !validMethod(m):
		v.fieldf(path, "invalid method %q: want \"pkg.Service/Method\"", m)
	}
}

// readPersisted reads a persisted operations file: a JSON object of
// documents by hash, or an Apollo persisted query manifest. Each hash must
// be its document's SHA-256.
func readPersisted(file string) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, unwrapPath(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: want a JSON object of documents by SHA-256, or an Apollo persisted query manifest: %v", file, err)
	}
	ops := map[string]string{}
	if _, ok := raw["operations"]; ok && raw["format"] != nil {
		var manifest struct {
			Format     string `json:"format"`
			Operations []struct {
				ID   string `json:"id"`
				Body string `json:"body"`
			} `json:"operations"`
		}
		if err := json.Unmarshal(data, &manifest); err != nil || manifest.Format != "apollo-persisted-query-manifest" {
			return nil, fmt.Errorf("%s: not an Apollo persisted query manifest (format %q)", file, manifest.Format)
		}
		for _, op := range manifest.Operations {
			ops[op.ID] = op.Body
		}
	} else {
		for hash, doc := range raw {
			var s string
			if err := json.Unmarshal(doc, &s); err != nil {
				return nil, fmt.Errorf("%s: operation %q: want the document as a string", file, hash)
			}
			ops[hash] = s
		}
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("%s holds no operations", file)
	}
	out := make(map[string]string, len(ops))
	for _, hash := range slices.Sorted(maps.Keys(ops)) {
		doc := ops[hash]
		sum := sha256.Sum256([]byte(doc))
		if want := hex.EncodeToString(sum[:]); !strings.EqualFold(hash, want) {
			return nil, fmt.Errorf("%s: operation %q: the document's SHA-256 is %s", file, hash, want)
		}
		if _, err := parser.ParseQuery(&ast.Source{Input: doc}); err != nil {
			return nil, fmt.Errorf("%s: operation %s: %s", file, hash, documentError(err))
		}
		out[strings.ToLower(hash)] = doc
	}
	return out, nil
}

// documentError describes a GraphQL syntax error with its place in the
// document.
func documentError(err error) string {
	var ge *gqlerror.Error
	if errors.As(err, &ge) && len(ge.Locations) > 0 {
		return fmt.Sprintf("GraphQL syntax error at line %d, column %d of the document: %s", ge.Locations[0].Line, ge.Locations[0].Column, ge.Message)
	}
	return "GraphQL syntax error: " + err.Error()
}

// graphqlName reports whether s is a GraphQL name not reserved for
// introspection.
func graphqlName(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i, c := range s {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// operationName reports whether s names a persisted operation.
func operationName(s string) bool {
	for _, c := range s {
		if !(c == '_' || c == '.' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

// summary prints the GraphQL section, unless it is all defaults: the
// limits, then what differs from the conventions.
func (s *summary) graphql(g GraphQL) {
	var def GraphQL
	def.complete()
	if reflect.DeepEqual(g, def) {
		return
	}
	s.WriteByte('\n')
	s.line(0, "graphql max_depth %d, max_complexity %d, max_aliases %d, max_root_fields %d, max_fields %d, max_fragments %d, max_document_bytes %s, max_concurrent_calls %d",
		g.MaxDepth, g.MaxComplexity, g.MaxAliases, g.MaxRootFields, g.MaxFields, g.MaxFragments, g.MaxDocumentBytes, g.MaxConcurrentCalls)
	var modes []string
	switch {
	case !g.IntrospectionOn():
		modes = append(modes, "introspection off") // and so the query page
	case !g.QueryPageOn():
		modes = append(modes, "query page off")
	}
	if g.APQ {
		modes = append(modes, fmt.Sprintf("apq (cache %d)", g.APQCacheSize))
	}
	if g.PersistedOnly {
		modes = append(modes, "persisted_only")
	}
	if len(modes) > 0 {
		s.line(1, "%s", strings.Join(modes, ", "))
	}
	if ops := g.PersistedOperations; ops.File != "" {
		s.line(1, "persisted operations file %s: %d operations", printable(ops.File), len(ops.FromFile))
	}
	for _, op := range g.PersistedOperations.Operations {
		line := "persisted operation " + op.Name
		if op.REST.Path != "" {
			line += fmt.Sprintf(", rest %s %s", op.REST.Method, op.REST.Path)
		}
		s.line(1, "%s", line)
		written, trimmed, newline := op.Hash(), op.TrimmedHash(), op.NewlineHash()
		asWritten := map[bool]string{true: ", as written"}
		s.line(2, "sha256 %s of the document without trailing line breaks%s", trimmed, asWritten[written == trimmed])
		s.line(2, "sha256 %s of the document ending in one line break%s", newline, asWritten[written == newline])
		if written != trimmed && written != newline {
			s.line(2, "sha256 %s of the document as written", written)
		}
	}
	for _, l := range g.Links {
		var args []string
		for _, k := range slices.Sorted(maps.Keys(l.Args)) {
			args = append(args, k+": "+l.Args[k])
		}
		line := fmt.Sprintf("link %s.%s -> %s(%s)", l.Type, l.Field, l.Method, strings.Join(args, ", "))
		if l.ResultField != "" {
			line += "." + l.ResultField
		}
		if b := l.Batch; b != nil {
			line += fmt.Sprintf(", batch %s(%s) -> %s by %s", b.Method, b.RequestField, b.ResponseField, b.KeyField)
		}
		s.line(1, "%s", line)
	}
	for _, o := range g.Overrides {
		s.line(1, "override %s%s: %s", o.Service, o.Method, settings("name", o.Name, "operation", o.Operation, "hide", map[bool]string{true: "true"}[o.Hide]))
	}
	for _, pkg := range slices.Sorted(maps.Keys(g.Prefixes)) {
		s.line(1, "prefix %s %s", pkg, g.Prefixes[pkg])
	}
}
