package registry

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/protogate/gateway/transcoder"
)

// BreakingChanges lists what an update from oldFiles to newFiles breaks for existing clients of
// services (every service of oldFiles outside the google.* packages when empty; a service oldFiles
// does not declare is skipped). It compares the services, their methods and, transitively, every
// message and enum reachable from their requests and responses, each with its counterpart of the
// same full name in the same place. Each break is one line naming the element that breaks:
//
//	shop.users.v1.UserService: method GetUser removed
//	shop.users.v1.UserService.GetUser: changed from unary to server streaming
//	shop.users.v1.UserService.GetUser: request type changed from shop.users.v1.GetUserRequest to ...
//	shop.users.v1.User: field 3 "email" removed
//	shop.users.v1.User: field "email" number changed from 3 to 15
//	shop.users.v1.User: field 3 "email" type changed from string to bytes
//	shop.users.v1.User: field 7 "tags" changed from repeated to singular
//	shop.users.v1.User: field 3 "email" moved into oneof contact
//	shop.users.v1.User: field 3 "email" gained explicit presence (optional)
//	shop.users.v1.Role: value 2 "ROLE_SUPPORT" removed
//
// Besides the wire format it guards what the gateway's REST and GraphQL fronts serve: renamed fields
// and enum values, changed JSON names, and removed or changed google.api.http bindings break too.
// Additions never do. The lines are sorted; nil means nothing breaks.
//
// What the descriptors alone do not tell, how the GraphQL schema changes (a method that becomes a
// query, a root field a gateway option hides, a required argument added, a link's field), the
// registry finds by comparing the schemas served before and after (schema.BreakingChanges).
func BreakingChanges(oldFiles, newFiles *protoregistry.Files, services []string) []string {
	if len(services) == 0 {
		services = declaredServices(oldFiles)
	}
	d := differ{compared: make(map[protoreflect.FullName]bool)}
	for _, name := range services {
		od, ok := findService(oldFiles, name)
		if !ok {
			continue
		}
		nd, ok := findService(newFiles, name)
		if !ok {
			d.addf(od.FullName(), "service removed")
			continue
		}
		d.service(od, nd)
	}
	slices.Sort(d.breaks)
	return slices.Compact(d.breaks)
}

// fileBreaks lists what newFile breaks of what oldFile declares, the two being copies of one file
// (one path): every service, message and enum of oldFile, nested ones included, must be in newFile
// and compatible with it, by the rules of BreakingChanges. Additions never break. The lines are
// sorted; nil means nothing breaks.
func fileBreaks(oldFile, newFile protoreflect.FileDescriptor) []string {
	d := differ{compared: make(map[protoreflect.FullName]bool), within: oldFile.Path()}
	services := oldFile.Services()
	for i := range services.Len() {
		od := services.Get(i)
		if nd := newFile.Services().ByName(od.Name()); nd != nil {
			d.service(od, nd)
		} else {
			d.addf(od.FullName(), "service removed")
		}
	}
	d.declarations(oldFile.Messages(), newFile.Messages(), oldFile.Enums(), newFile.Enums())
	slices.Sort(d.breaks)
	return slices.Compact(d.breaks)
}

// declarations compares the messages and enums declared in one scope (a file or a message), and
// those nested in them, with their counterparts of the same name.
func (d *differ) declarations(om, nm protoreflect.MessageDescriptors, oe, ne protoreflect.EnumDescriptors) {
	for i := range om.Len() {
		o := om.Get(i)
		if o.IsMapEntry() {
			continue // compared with its map field
		}
		n := nm.ByName(o.Name())
		if n == nil {
			d.addf(o.FullName(), "message removed")
			continue
		}
		d.message(o, n)
		d.declarations(o.Messages(), n.Messages(), o.Enums(), n.Enums())
	}
	for i := range oe.Len() {
		o := oe.Get(i)
		if n := ne.ByName(o.Name()); n != nil {
			d.enum(o, n)
		} else {
			d.addf(o.FullName(), "enum removed")
		}
	}
}

// declaredServices lists the services of files outside the google.* packages.
func declaredServices(files *protoregistry.Files) []string {
	var out []string
	if files == nil {
		return nil
	}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if strings.HasPrefix(string(fd.Package()), "google.") {
			return true
		}
		svcs := fd.Services()
		for i := range svcs.Len() {
			out = append(out, string(svcs.Get(i).FullName()))
		}
		return true
	})
	return out
}

func findService(files *protoregistry.Files, name string) (protoreflect.ServiceDescriptor, bool) {
	if files == nil {
		return nil, false
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, false
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	return sd, ok
}

type differ struct {
	breaks   []string
	compared map[protoreflect.FullName]bool // messages and enums already compared
	// within, when set, is the one file compared (fileBreaks): the messages and enums of the
	// files it imports are compared as those files, each copy of a path against its own.
	within string
}

// skips reports whether the differ leaves desc out: it is compared already, or is of another file
// than the one compared (within). It marks desc compared.
func (d *differ) skips(desc protoreflect.Descriptor) bool {
	if d.compared[desc.FullName()] || (d.within != "" && desc.ParentFile().Path() != d.within) {
		return true
	}
	d.compared[desc.FullName()] = true
	return false
}

func (d *differ) addf(element protoreflect.FullName, format string, args ...any) {
	d.breaks = append(d.breaks, string(element)+": "+fmt.Sprintf(format, args...))
}

func (d *differ) service(od, nd protoreflect.ServiceDescriptor) {
	methods := od.Methods()
	for i := range methods.Len() {
		om := methods.Get(i)
		nm := nd.Methods().ByName(om.Name())
		if nm == nil {
			d.addf(od.FullName(), "method %s removed", om.Name())
			continue
		}
		d.method(om, nm)
	}
}

func (d *differ) method(om, nm protoreflect.MethodDescriptor) {
	if ok, nk := streamingKind(om), streamingKind(nm); ok != nk {
		d.addf(om.FullName(), "changed from %s to %s", ok, nk)
	}
	if oi, ni := om.Input(), nm.Input(); oi.FullName() != ni.FullName() {
		d.addf(om.FullName(), "request type changed from %s to %s", oi.FullName(), ni.FullName())
	} else {
		d.message(oi, ni)
	}
	if oo, no := om.Output(), nm.Output(); oo.FullName() != no.FullName() {
		d.addf(om.FullName(), "response type changed from %s to %s", oo.FullName(), no.FullName())
	} else {
		d.message(oo, no)
	}
	d.bindings(om, nm)
}

func streamingKind(m protoreflect.MethodDescriptor) string {
	switch {
	case m.IsStreamingClient() && m.IsStreamingServer():
		return "bidi streaming"
	case m.IsStreamingClient():
		return "client streaming"
	case m.IsStreamingServer():
		return "server streaming"
	default:
		return "unary"
	}
}

// bindings reports HTTP bindings of om that nm no longer has, and changed request or response bodies.
func (d *differ) bindings(om, nm protoreflect.MethodDescriptor) {
	oldRules, _ := transcoder.HTTPRules(om)
	if len(oldRules) == 0 {
		return
	}
	newRules, _ := transcoder.HTTPRules(nm)
	for _, or := range oldRules {
		route := httpRoute(or)
		i := slices.IndexFunc(newRules, func(nr *annotations.HttpRule) bool { return httpRoute(nr) == route })
		switch {
		case i < 0:
			d.addf(om.FullName(), "HTTP binding %s removed", route)
		case newRules[i].GetBody() != or.GetBody():
			d.addf(om.FullName(), "HTTP binding %s: body changed from %q to %q", route, or.GetBody(), newRules[i].GetBody())
		case newRules[i].GetResponseBody() != or.GetResponseBody():
			d.addf(om.FullName(), "HTTP binding %s: response body changed from %q to %q", route, or.GetResponseBody(), newRules[i].GetResponseBody())
		}
	}
}

// httpRoute renders a rule's HTTP method and path: "GET /v1/users/{id}".
func httpRoute(r *annotations.HttpRule) string {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return "GET " + p.Get
	case *annotations.HttpRule_Put:
		return "PUT " + p.Put
	case *annotations.HttpRule_Post:
		return "POST " + p.Post
	case *annotations.HttpRule_Delete:
		return "DELETE " + p.Delete
	case *annotations.HttpRule_Patch:
		return "PATCH " + p.Patch
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind() + " " + p.Custom.GetPath()
	}
	return ""
}

func (d *differ) message(om, nm protoreflect.MessageDescriptor) {
	if d.skips(om) {
		return
	}
	fields := om.Fields()
	for i := range fields.Len() {
		of := fields.Get(i)
		nf := nm.Fields().ByNumber(of.Number())
		if nf == nil {
			if moved := nm.Fields().ByName(of.Name()); moved != nil {
				d.addf(om.FullName(), "field %q number changed from %d to %d", of.Name(), of.Number(), moved.Number())
			} else {
				d.addf(om.FullName(), "field %d %q removed", of.Number(), of.Name())
			}
			continue
		}
		d.field(om.FullName(), of, nf)
	}
}

// field compares two fields of the same number.
func (d *differ) field(owner protoreflect.FullName, of, nf protoreflect.FieldDescriptor) {
	switch {
	case of.Name() != nf.Name():
		d.addf(owner, "field %d renamed from %q to %q", of.Number(), of.Name(), nf.Name())
	case of.JSONName() != nf.JSONName():
		d.addf(owner, "field %d %q JSON name changed from %q to %q", of.Number(), of.Name(), of.JSONName(), nf.JSONName())
	}
	if oo, no := realOneof(of), realOneof(nf); oo != no {
		switch {
		case oo == "":
			d.addf(owner, "field %d %q moved into oneof %s", of.Number(), of.Name(), no)
		case no == "":
			d.addf(owner, "field %d %q moved out of oneof %s", of.Number(), of.Name(), oo)
		default:
			d.addf(owner, "field %d %q moved from oneof %s to oneof %s", of.Number(), of.Name(), oo, no)
		}
	}
	if oc, nc := cardinality(of), cardinality(nf); oc != nc {
		d.addf(owner, "field %d %q changed from %s to %s", of.Number(), of.Name(), oc, nc)
		return
	}
	if ot, nt := typeName(of), typeName(nf); ot != nt {
		d.addf(owner, "field %d %q type changed from %s to %s", of.Number(), of.Name(), ot, nt)
		return
	}
	// A required field must be sent: clients that leave out a field made required are refused, and
	// the GraphQL front makes a required field non-null, so a field no longer required turns
	// nullable under clients that counted on it.
	if or, nr := of.Cardinality() == protoreflect.Required, nf.Cardinality() == protoreflect.Required; or != nr {
		if nr {
			d.addf(owner, "field %d %q became required", of.Number(), of.Name())
		} else {
			d.addf(owner, "field %d %q is no longer required", of.Number(), of.Name())
		}
	}
	// Presence decides whether an unset field differs from one set to its zero value: the GraphQL
	// front makes a field without it non-null, and REST JSON leaves out its zero value. A field
	// moved into or out of a oneof gains or loses presence too, and is listed as moved.
	if op, np := of.HasPresence(), nf.HasPresence(); op != np && realOneof(of) == realOneof(nf) {
		if np {
			d.addf(owner, "field %d %q gained explicit presence (optional)", of.Number(), of.Name())
		} else {
			d.addf(owner, "field %d %q lost explicit presence", of.Number(), of.Name())
		}
	}
	if of.IsMap() {
		of, nf = of.MapValue(), nf.MapValue()
	}
	switch {
	case of.Message() != nil && nf.Message() != nil:
		d.message(of.Message(), nf.Message())
	case of.Enum() != nil && nf.Enum() != nil:
		d.enum(of.Enum(), nf.Enum())
	}
}

// realOneof names the oneof f is a member of, or is "" when f is in none or in a synthetic one.
// Which oneof a field is in decides what a client may send with it: setting two members of one
// oneof is refused, and a member set after another replaces it. A proto3 optional field's
// synthetic oneof has that field alone, so adding or removing optional excludes nothing (it changes
// the field's presence, which field compares on its own).
func realOneof(f protoreflect.FieldDescriptor) protoreflect.Name {
	if od := f.ContainingOneof(); od != nil && !od.IsSynthetic() {
		return od.Name()
	}
	return ""
}

func cardinality(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap():
		return "map"
	case f.IsList():
		return "repeated"
	default:
		return "singular"
	}
}

// typeName names a field's type: its kind for scalars, the full name for messages and enums,
// map<key, value> for maps (so the generated name of a map's entry message does not count).
func typeName(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap():
		return "map<" + typeName(f.MapKey()) + ", " + typeName(f.MapValue()) + ">"
	case f.Message() != nil:
		return string(f.Message().FullName())
	case f.Enum() != nil:
		return string(f.Enum().FullName())
	default:
		return f.Kind().String()
	}
}

func (d *differ) enum(oe, ne protoreflect.EnumDescriptor) {
	if d.skips(oe) {
		return
	}
	values := oe.Values()
	for i := range values.Len() {
		ov := values.Get(i)
		byName, byNumber := ne.Values().ByName(ov.Name()), ne.Values().ByNumber(ov.Number())
		switch {
		case byName != nil && byName.Number() == ov.Number():
		case byName != nil:
			d.addf(oe.FullName(), "value %q number changed from %d to %d", ov.Name(), ov.Number(), byName.Number())
		case byNumber != nil:
			d.addf(oe.FullName(), "value %d renamed from %q to %q", ov.Number(), ov.Name(), byNumber.Name())
		default:
			d.addf(oe.FullName(), "value %d %q removed", ov.Number(), ov.Name())
		}
	}
}
