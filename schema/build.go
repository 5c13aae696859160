package schema

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Error is what Build returns when the services and options do not make a valid schema: every
// problem found, each naming what it is about, sorted.
type Error struct {
	Problems []string
	// Conflicts are the problems that are two protobuf definitions claiming one GraphQL name,
	// in the order of Problems. The registry uses them to tell which registrations collide.
	Conflicts []Conflict
}

// Conflict is a GraphQL name that two protobuf definitions claim: two messages or enums (of
// different packages, or one's name with "Input" appended), or two methods' root fields.
type Conflict struct {
	// Problem is the text of the problem in Error.Problems.
	Problem string
	// Name is the GraphQL name; RootField says whether it is a root field's, else a type's.
	Name      string
	RootField bool
	// Claims are the definitions: the first to claim the name, then the other.
	Claims [2]Claim
}

// Claim is one definition's claim on a GraphQL name.
type Claim struct {
	// Def is the message, enum or method.
	Def protoreflect.FullName
	// Input is set when the claim is for the input type of message Def.
	Input bool
}

func (e *Error) Error() string { return "graphql schema: " + strings.Join(e.Problems, "; ") }

// Build makes the GraphQL schema of services by the conventions of the package documentation, as
// changed by opts and by the gateway options in the services' descriptors. The services' order does
// not matter. On error, it is an *Error listing every problem.
func Build(services []protoreflect.ServiceDescriptor, opts Options) (*Schema, error) {
	b := &builder{
		opts:         opts,
		services:     make(map[protoreflect.FullName]protoreflect.ServiceDescriptor, len(services)),
		methods:      make(map[string]protoreflect.MethodDescriptor),
		names:        make(map[string]string),
		claims:       make(map[string]Claim),
		conflicts:    make(map[string]Conflict),
		typeNames:    make(map[protoreflect.FullName]string),
		fieldNamesOf: make(map[protoreflect.MessageDescriptor][]string),
		objects:      make(map[protoreflect.MessageDescriptor]*Object),
		inputs:       make(map[protoreflect.MessageDescriptor]*Input),
		objectByName: make(map[string]*Object),
		inputByName:  make(map[string]*Input),
		enums:        make(map[protoreflect.FullName]*Enum),
		scalars:      make(map[string]bool),
		links:        make(map[protoreflect.FullName][]Link),
		linksOf:      make(map[protoreflect.FullName][]Link),
		roots:        make(map[string]*RootField),
		behaviors:    make(map[protoreflect.FieldDescriptor]behaviors),
	}
	for _, name := range [...]string{"String", "Int", "Float", "Boolean", "ID"} {
		b.names[name] = "a built-in scalar"
	}
	for _, name := range [...]string{ScalarUInt32, ScalarInt64, ScalarUInt64, ScalarBytes, ScalarDateTime, ScalarDuration, ScalarJSON} {
		b.names[name] = "a scalar of the gateway"
	}
	for _, name := range [...]string{"Query", "Mutation", "Subscription"} {
		b.names[name] = "a root type"
	}

	sorted := b.indexServices(services)
	b.checkPrefixes()
	ov := b.indexOverrides()
	b.indexLinks()
	for _, sd := range sorted {
		b.service(sd, ov)
	}
	b.checkUnusedLinks(sorted)
	b.breakRequiredCycles()
	for _, c := range b.copies {
		if !sameFields(*c.first, *c.next) {
			b.problemf("message %s has two different definitions", c.md.FullName())
		}
	}
	if len(b.problems) > 0 {
		slices.Sort(b.problems)
		e := &Error{Problems: slices.Compact(b.problems)}
		for _, p := range e.Problems {
			if c, ok := b.conflicts[p]; ok {
				e.Conflicts = append(e.Conflicts, c)
			}
		}
		return nil, e
	}

	s := &Schema{
		root:        b.roots,
		ops:         b.ops,
		objects:     b.objectByName,
		inputs:      b.inputByName,
		enums:       make(map[string]*Enum, len(b.enums)),
		objectsByMD: b.objects,
		inputsByMD:  b.inputs,
	}
	for _, e := range b.enums {
		s.enums[e.Name] = e
	}
	s.sdl = writeSDL(s, b.scalars)
	parsed, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: s.sdl})
	if err != nil {
		return nil, fmt.Errorf("graphql schema: the generated SDL does not load, which is a bug: %w", err)
	}
	keepSpecLocations(parsed)
	dropIncrementalDelivery(parsed)
	s.ast = parsed
	return s, nil
}

// specLocations are the directive locations of the GraphQL specification (October 2021).
var specLocations = map[ast.DirectiveLocation]bool{
	ast.LocationQuery: true, ast.LocationMutation: true, ast.LocationSubscription: true,
	ast.LocationField: true, ast.LocationFragmentDefinition: true, ast.LocationFragmentSpread: true,
	ast.LocationInlineFragment: true, ast.LocationVariableDefinition: true,
	ast.LocationSchema: true, ast.LocationScalar: true, ast.LocationObject: true,
	ast.LocationFieldDefinition: true, ast.LocationArgumentDefinition: true, ast.LocationInterface: true,
	ast.LocationUnion: true, ast.LocationEnum: true, ast.LocationEnumValue: true,
	ast.LocationInputObject: true, ast.LocationInputFieldDefinition: true,
}

// keepSpecLocations removes from the schema's directives the locations the specification does not
// have: gqlparser's prelude puts @deprecated on DIRECTIVE_DEFINITION too, and clients that check
// introspection against the specification (graphql-core's build_client_schema) refuse the schema.
// The schema's SDL declares no directives; the locations matter only to introspection.
func keepSpecLocations(s *ast.Schema) {
	for _, d := range s.Directives {
		d.Locations = slices.DeleteFunc(d.Locations, func(l ast.DirectiveLocation) bool { return !specLocations[l] })
	}
}

// incrementalDelivery are the directives that ask for a response in parts (@defer, and @stream,
// which gqlparser's prelude does not declare today).
var incrementalDelivery = [...]string{"defer", "stream"}

// dropIncrementalDelivery removes from the schema the directives of incremental delivery, which
// gqlparser's prelude declares but the gateway does not do: it answers every operation in one
// response. Declared, @defer would be listed by introspection, though not by the SDL, and a
// document using it would validate and then be answered whole, as a client asking for parts does
// not expect; undeclared, validation refuses the document (KnownDirectives).
func dropIncrementalDelivery(s *ast.Schema) {
	for _, name := range incrementalDelivery {
		delete(s.Directives, name)
	}
}

// direction is whether a message is read (output: an object type) or written (input: an input type).
type direction uint8

const (
	output direction = iota
	input
)

type builder struct {
	opts     Options
	problems []string

	services map[protoreflect.FullName]protoreflect.ServiceDescriptor
	methods  map[string]protoreflect.MethodDescriptor // "pkg.Service/Method"

	names        map[string]string                           // GraphQL type name -> what claimed it
	claims       map[string]Claim                            // GraphQL type name -> the definition that claimed it
	conflicts    map[string]Conflict                         // problem text -> the conflict it reports
	typeNames    map[protoreflect.FullName]string            // message or enum -> its GraphQL name
	fieldNamesOf map[protoreflect.MessageDescriptor][]string // message -> its fields' GraphQL names, by index; "" for none
	objects      map[protoreflect.MessageDescriptor]*Object
	inputs       map[protoreflect.MessageDescriptor]*Input
	objectByName map[string]*Object // the first definition of each name
	inputByName  map[string]*Input
	enums        map[protoreflect.FullName]*Enum
	scalars      map[string]bool // the gateway's scalars the schema uses

	links   map[protoreflect.FullName][]Link // Options.Links by message
	linksOf map[protoreflect.FullName][]Link // a message's links: its proto options', then Options'

	roots map[string]*RootField
	ops   [3][]*RootField

	copies []copyOf // second definitions of messages, checked when all types are complete

	behaviors map[protoreflect.FieldDescriptor]behaviors
}

// behaviorsOf returns the field behaviors of fd the schema acts on; they are read once per field.
func (b *builder) behaviorsOf(fd protoreflect.FieldDescriptor) behaviors {
	fb, ok := b.behaviors[fd]
	if !ok {
		fb = fieldBehaviors(fd)
		b.behaviors[fd] = fb
	}
	return fb
}

// copyOf is a message defined twice, by two registrations' copies of its file.
type copyOf struct {
	md          protoreflect.MessageDescriptor
	first, next *[]*Field
}

func (b *builder) problemf(format string, args ...any) {
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

// indexServices returns the services sorted by name, each once, and indexes their methods.
func (b *builder) indexServices(services []protoreflect.ServiceDescriptor) []protoreflect.ServiceDescriptor {
	sorted := make([]protoreflect.ServiceDescriptor, 0, len(services))
	for _, sd := range services {
		if prev, ok := b.services[sd.FullName()]; ok {
			if prev != sd {
				b.problemf("service %s is given twice, with different descriptors", sd.FullName())
			}
			continue
		}
		b.services[sd.FullName()] = sd
		sorted = append(sorted, sd)
		methods := sd.Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			b.methods[string(sd.FullName())+"/"+string(m.Name())] = m
		}
	}
	slices.SortFunc(sorted, func(x, y protoreflect.ServiceDescriptor) int { return cmp.Compare(x.FullName(), y.FullName()) })
	return sorted
}

func (b *builder) checkPrefixes() {
	for pkg, prefix := range b.opts.Prefixes {
		if !validName(prefix) {
			b.problemf("prefix %q of package %s does not start a valid GraphQL name", prefix, pkg)
		}
	}
}

// overrides are Options.Overrides by service and by method key.
type overrides struct {
	services map[protoreflect.FullName]*Override
	methods  map[string]*Override
}

func (b *builder) indexOverrides() overrides {
	ov := overrides{services: make(map[protoreflect.FullName]*Override), methods: make(map[string]*Override)}
	for i := range b.opts.Overrides {
		o := &b.opts.Overrides[i]
		if err := checkOperation(o.Operation); err != nil {
			b.problemf("%s: %v", o, err)
			continue
		}
		switch target := o.Target(); {
		case (o.Service == "") == (o.Method == ""):
			b.problemf("override %d: set exactly one of service and method", i)
		case o.Service != "":
			name := protoreflect.FullName(target)
			if _, ok := b.services[name]; !ok {
				b.problemf("%s: unknown service", o)
				continue
			}
			if o.Name != "" && !validName(o.Name) {
				b.problemf("%s: name prefix %q does not start a valid GraphQL name", o, o.Name)
			}
			if ov.services[name] != nil {
				b.problemf("%s: given twice", o)
			}
			ov.services[name] = o
		default:
			if b.methods[target] == nil {
				b.problemf("%s: unknown method", o)
				continue
			}
			if ov.methods[target] != nil {
				b.problemf("%s: given twice", o)
			}
			ov.methods[target] = o
		}
	}
	return ov
}

// indexLinks checks Options.Links and indexes them by message.
func (b *builder) indexLinks() {
	seen := make(map[string]bool)
	for _, l := range b.opts.Links {
		where := fmt.Sprintf("link %s.%s", l.OnType, l.Field)
		switch {
		case l.OnType == "":
			b.problemf("%s: no message to add the field to", where)
			continue
		case !validName(l.Field):
			b.problemf("%s: field name %q is not a valid GraphQL name", where, l.Field)
			continue
		case seen[l.OnType+"."+l.Field]:
			b.problemf("%s: declared twice", where)
			continue
		}
		seen[l.OnType+"."+l.Field] = true
		// Check the methods now: the link may be on a message no root field reaches.
		if b.linkMethod(where, l.Method) == nil {
			continue
		}
		if l.Batch != nil && b.linkMethod(where+": batch", l.Batch.Method) == nil {
			continue
		}
		name := protoreflect.FullName(l.OnType)
		b.links[name] = append(b.links[name], l)
	}
}

// checkUnusedLinks reports the links of Options on messages that do not exist. Links on messages
// that exist but are not in the schema (no root field reaches them) are left out without error.
func (b *builder) checkUnusedLinks(services []protoreflect.ServiceDescriptor) {
	var unused []protoreflect.FullName
	for name := range b.links {
		if _, used := b.linksOf[name]; !used {
			unused = append(unused, name)
		}
	}
	if len(unused) == 0 {
		return
	}
	known := make(map[protoreflect.FullName]bool)
	seen := make(map[string]bool)
	var visit func(fd protoreflect.FileDescriptor)
	var visitMessages func(ms protoreflect.MessageDescriptors)
	visitMessages = func(ms protoreflect.MessageDescriptors) {
		for i := range ms.Len() {
			known[ms.Get(i).FullName()] = true
			visitMessages(ms.Get(i).Messages())
		}
	}
	visit = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		visitMessages(fd.Messages())
		imports := fd.Imports()
		for i := range imports.Len() {
			visit(imports.Get(i).FileDescriptor)
		}
	}
	for _, sd := range services {
		visit(sd.ParentFile())
	}
	for _, name := range unused {
		if !known[name] {
			for _, l := range b.links[name] {
				b.problemf("link %s.%s: unknown message %s", l.OnType, l.Field, name)
			}
		}
	}
}

// service adds the root fields of a service's methods.
func (b *builder) service(sd protoreflect.ServiceDescriptor, ov overrides) {
	sopt, err := serviceOption(sd)
	if err != nil {
		b.problemf("service %s: option (gateway.options.v1.graphql_service): %v", sd.FullName(), err)
	}
	if sopt.GetName() != "" && !validName(sopt.GetName()) {
		b.problemf("service %s: option (gateway.options.v1.graphql_service): name prefix %q does not start a valid GraphQL name", sd.FullName(), sopt.GetName())
	}
	scfg := ov.services[sd.FullName()]
	if scfg == nil {
		scfg = &Override{}
	}
	prefix := cmp.Or(scfg.Name, sopt.GetName())
	serviceOp := cmp.Or(scfg.Operation, operationOf(sopt.GetOperation()))
	serviceHide := scfg.Hide || sopt.GetHide()

	methods := sd.Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		key := string(sd.FullName()) + "/" + string(m.Name())
		mopt, err := methodOption(m)
		if err != nil {
			b.problemf("method %s: option (gateway.options.v1.graphql): %v", key, err)
		}
		mcfg := ov.methods[key]
		if mcfg == nil {
			mcfg = &Override{}
		}
		op := cmp.Or(mcfg.Operation, operationOf(mopt.GetOperation()))
		streaming := m.IsStreamingClient() || m.IsStreamingServer()
		if op != "" && streaming {
			b.problemf("method %s: streaming methods cannot be moved between query and mutation", key)
			continue
		}
		if m.IsStreamingClient() || serviceHide || mcfg.Hide || mopt.GetHide() {
			continue // client and bidi streaming have no GraphQL form
		}
		switch {
		case m.IsStreamingServer():
			op = ast.Subscription
		case op != "":
		case serviceOp != "":
			op = serviceOp
		case hasGetBinding(m) || idempotency(m) == descriptorpb.MethodOptions_NO_SIDE_EFFECTS:
			op = ast.Query
		default:
			op = ast.Mutation
		}
		name := cmp.Or(mcfg.Name, mopt.GetName())
		switch {
		case name != "":
		case prefix != "":
			name = prefix + string(m.Name())
		default:
			name = lowerCamel(string(m.Name()))
		}
		b.rootField(m, key, op, name)
	}
}

func idempotency(m protoreflect.MethodDescriptor) descriptorpb.MethodOptions_IdempotencyLevel {
	o, _ := m.Options().(*descriptorpb.MethodOptions)
	return o.GetIdempotencyLevel()
}

func (b *builder) rootField(m protoreflect.MethodDescriptor, key string, op ast.Operation, name string) {
	switch prev := b.roots[name]; {
	case !validName(name) || name == PlaceholderField:
		b.problemf("GraphQL root field %q of %s is not a valid or free GraphQL name", name, key)
		return
	case prev != nil:
		p := fmt.Sprintf("GraphQL root field %s of %s is already taken by %s (%s)", name, key, prev.Path[1:], RootFieldHint("one of the methods"))
		b.problems = append(b.problems, p)
		b.conflicts[p] = Conflict{Problem: p, Name: name, RootField: true,
			Claims: [2]Claim{{Def: prev.Method.FullName()}, {Def: m.FullName()}}}
		return
	}
	rf := &RootField{Operation: op, Name: name, Method: m, Path: "/" + key}
	b.roots[name] = rf
	b.ops[opIndex(op)] = append(b.ops[opIndex(op)], rf)
	rf.Args = &Input{Message: m.Input()}
	b.fillInput(rf.Args)
	rf.Result = b.message(m.Output(), output)
}

// RootFieldHint says what tells two methods claiming one root field apart, method being the one to
// rename: an override of its name (Options.Overrides), or its option (gateway.options.v1.graphql)
// giving one. A prefix does not: it renames types only.
func RootFieldHint(method string) string {
	return fmt.Sprintf("an override naming the root field of %s, or that method's option (gateway.options.v1.graphql) = {name: ...}, tells them apart", method)
}

// claim takes GraphQL type name for what (e.g. "message shop.users.v1.User"), the definition c, or
// reports whom it already belongs to.
func (b *builder) claim(name, what string, c Claim) {
	switch prev, ok := b.names[name]; {
	case !ok:
		b.names[name] = what
		b.claims[name] = c
	case prev != what:
		p := fmt.Sprintf("GraphQL type %s for %s is already taken by %s (a prefix for one of their packages tells them apart)", name, what, prev)
		b.problems = append(b.problems, p)
		if first, ok := b.claims[name]; ok {
			b.conflicts[p] = Conflict{Problem: p, Name: name, Claims: [2]Claim{first, c}}
		}
	}
	if !validName(name) {
		b.problemf("GraphQL type name %q for %s is not a valid GraphQL name", name, what)
	}
}

func (b *builder) typeName(d protoreflect.Descriptor) string {
	name, ok := b.typeNames[d.FullName()]
	if !ok {
		name = typeName(d, b.opts.Prefixes)
		b.typeNames[d.FullName()] = name
	}
	return name
}
