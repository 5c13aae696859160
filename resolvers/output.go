package resolvers

import (
	"fmt"
	"math"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/schema"
)

// writer writes an operation's data as JSON straight from the upstream responses' wire bytes,
// following the selections. Each value method appends the value and returns true, or reports a
// field error and returns false: the caller then replaces what the field wrote with null if the
// field is nullable, or fails itself if not, so a null bubbles up to the nearest nullable field as
// GraphQL requires.
type writer struct {
	op      *operation
	buf     []byte
	path    []pathElem // the path of the value being written, for errors
	pathBuf [16]pathElem
}

// writer returns the writer of op's response, with room for size bytes. It shares the operation's
// allocation and its arena of message indexes, which the walk for links has left empty.
func (op *operation) writer(size int) *writer {
	w := &op.w
	*w = writer{op: op, buf: make([]byte, 0, size)}
	w.path = w.pathBuf[:0]
	return w
}

// pathElem is one step of a response path: a field's response name, or a list index when name is "".
type pathElem struct {
	name  string
	index int
}

func (w *writer) push(name string) { w.path = append(w.path, pathElem{name: name}) }
func (w *writer) pushIndex(i int)  { w.path = append(w.path, pathElem{index: i}) }
func (w *writer) pop()             { w.path = w.path[:len(w.path)-1] }

// fail reports err as the error of the field being written: a gRPC status, turned into a GraphQL
// error by the error presenter, or a GraphQL error of the front's own with its code.
func (w *writer) fail(sf *selField, err error) {
	path := make(ast.Path, len(w.path))
	for i, p := range w.path {
		if p.name != "" {
			path[i] = ast.PathName(p.name)
		} else {
			path[i] = ast.PathIndex(p.index)
		}
	}
	ge, ok := err.(*gqlerror.Error)
	if ok {
		ge.Path = path
	} else {
		ge = &gqlerror.Error{Err: err, Message: err.Error(), Path: path}
	}
	if sf != nil && sf.Position != nil {
		ge.Locations = []gqlerror.Location{{Line: sf.Position.Line, Column: sf.Position.Column}}
	}
	graphql.AddError(w.op.ctx, ge)
}

// member writes a selected field as a member of an object, its value produced by fn, and applies
// null propagation: a failed non-null field fails the object.
func (w *writer) member(first bool, sf *selField, fn func() bool) bool {
	if !first {
		w.buf = append(w.buf, ',')
	}
	w.buf = appendString(w.buf, sf.Alias)
	w.buf = append(w.buf, ':')
	start := len(w.buf)
	w.push(sf.Alias)
	ok := fn()
	w.pop()
	if !ok {
		w.buf = w.buf[:start]
		if sf.nonNull {
			return false
		}
		w.buf = append(w.buf, "null"...)
	}
	return true
}

// rootObject writes the data of a query or mutation: each root field's call result, __typename,
// or introspection. A non-null root field that fails (only __schema can) makes data null.
func (w *writer) rootObject(fields []selField, roots []*call, typeName string) {
	w.buf = append(w.buf, '{')
	for i := range fields {
		sf := &fields[i]
		ok := w.member(i == 0, sf, func() bool {
			switch {
			case roots[i] != nil:
				c := roots[i]
				if c.err != nil {
					w.fail(sf, c.err)
					return false
				}
				return w.message(c.resp, sf.root.Method.Output(), &sf.root.Result, sf)
			case sf.Name == "__typename":
				w.buf = appendString(w.buf, typeName)
			case sf.Name == "__schema":
				return w.introSchema(sf)
			case sf.Name == "__type":
				return w.introTypeByName(sf)
			default: // the placeholder field
				w.buf = append(w.buf, "null"...)
			}
			return true
		})
		if !ok {
			w.buf = append(w.buf[:0], "null"...)
			return
		}
	}
	w.buf = append(w.buf, '}')
}

// object writes msg, a message of object type obj, with the selections of field sf.
func (w *writer) object(msg []byte, obj *schema.Object, of *selField) bool {
	op := w.op
	mark := len(op.arena)
	arena, v, err := indexView(op.arena, msg)
	op.arena = arena
	defer func() { op.arena = op.arena[:mark] }()
	if err != nil {
		w.fail(of, errBadData)
		return false
	}
	fields := w.op.collect(of.Selections, obj, obj.Name)
	w.buf = append(w.buf, '{')
	for i := range fields {
		sf := &fields[i]
		if !w.member(i == 0, sf, func() bool { return w.objectField(v, obj, sf) }) {
			return false
		}
	}
	w.buf = append(w.buf, '}')
	return true
}

func (w *writer) objectField(msg msgView, obj *schema.Object, sf *selField) bool {
	f := sf.f
	switch {
	case sf.Name == "__typename":
		w.buf = appendString(w.buf, obj.Name)
		return true
	case f == nil:
		w.fail(sf, status.Errorf(codes.Internal, "%s has no field %s", obj.Name, sf.Name))
		return false
	case f.Link != nil:
		return w.link(msg, f, sf)
	}
	return w.field(msg, f.Desc, &f.Value, sf)
}

// field writes field fd of msg, whose values map as v.
func (w *writer) field(msg msgView, fd protoreflect.FieldDescriptor, v *schema.Value, sf *selField) bool {
	switch {
	case fd.IsMap():
		return w.mapField(msg, fd, sf)
	case fd.IsList():
		return w.list(msg, fd, v, sf)
	case fd.Message() != nil:
		m, ok, err := messageField(msg, fd)
		switch {
		case err != nil:
			w.fail(sf, errBadData)
			return false
		case !ok && sf.nonNull:
			w.fail(sf, status.Errorf(codes.Internal, "the upstream left the required field %s unset", fd.FullName()))
			return false
		case !ok:
			w.buf = append(w.buf, "null"...)
			return true
		}
		return w.message(m, fd.Message(), v, sf)
	}
	wf, ok, err := scalarField(msg, fd)
	switch {
	case err != nil:
		w.fail(sf, errBadData)
		return false
	case !ok && fd.HasPresence() && !sf.nonNull:
		w.buf = append(w.buf, "null"...)
		return true
	case !ok:
		wf = scalarDefault(fd)
	}
	return w.scalar(wf, fd.Kind(), v, sf)
}

// errBadData is the field error of an upstream response that does not parse.
var errBadData = status.Error(codes.Internal, "the upstream sent a malformed protobuf message")

// list writes the values of repeated field fd of msg as a list, packed or not.
func (w *writer) list(msg msgView, fd protoreflect.FieldDescriptor, v *schema.Value, sf *selField) bool {
	elemNonNull := true
	if sf.Definition != nil {
		if t := listElem(sf.Definition.Type); t != nil {
			elemNonNull = t.NonNull
		}
	}
	k := fd.Kind()
	want := wireType(k)
	w.buf = append(w.buf, '[')
	n := 0
	elem := func(wf wireField) bool {
		if n > 0 {
			w.buf = append(w.buf, ',')
		}
		start := len(w.buf)
		w.pushIndex(n)
		var ok bool
		if fd.Message() != nil {
			ok = w.message(wf.b, fd.Message(), v, sf)
		} else {
			ok = w.scalar(wf, k, v, sf)
		}
		w.pop()
		n++
		if !ok {
			w.buf = w.buf[:start]
			if elemNonNull {
				return false
			}
			w.buf = append(w.buf, "null"...)
		}
		return true
	}
	it := msg.fields()
	for {
		wf, ok := it.nextOf(fd.Number())
		if !ok {
			break
		}
		switch {
		case wf.typ == want:
			if !elem(wf) {
				return false
			}
		case wf.typ == protowire.BytesType && packable(k):
			packed := wf.b
			for len(packed) > 0 {
				e := wireField{num: wf.num, typ: want}
				var m int
				switch want {
				case protowire.VarintType:
					e.u, m = protowire.ConsumeVarint(packed)
				case protowire.Fixed32Type:
					var u uint32
					u, m = protowire.ConsumeFixed32(packed)
					e.u = uint64(u)
				default:
					e.u, m = protowire.ConsumeFixed64(packed)
				}
				if m < 0 {
					w.fail(sf, errBadData)
					return false
				}
				packed = packed[m:]
				if !elem(e) {
					return false
				}
			}
		}
	}
	if it.err() != nil {
		w.fail(sf, errBadData)
		return false
	}
	w.buf = append(w.buf, ']')
	return true
}

// listElem returns the element type of a list type t (non-null or not), or nil.
func listElem(t *ast.Type) *ast.Type {
	if t == nil {
		return nil
	}
	return t.Elem
}

// message writes a value held in a message: an object, a well-known type or a wrapper. msg is the
// message's bytes, md its descriptor.
func (w *writer) message(msg []byte, md protoreflect.MessageDescriptor, v *schema.Value, sf *selField) bool {
	if v.Wrapper {
		inner := md.Fields().ByNumber(1)
		if inner == nil {
			w.fail(sf, status.Errorf(codes.Internal, "%s is not a wrapper", md.FullName()))
			return false
		}
		wf, ok, err := scalarField(view(msg), inner)
		if err != nil {
			w.fail(sf, errBadData)
			return false
		}
		if !ok {
			wf = scalarDefault(inner)
		}
		return w.scalar(wf, inner.Kind(), v, sf)
	}
	var err error
	switch v.Kind {
	case schema.KindMessage:
		return w.object(msg, v.Object, sf)
	case schema.KindEmpty:
		w.buf = append(w.buf, "true"...)
		return true
	case schema.KindTimestamp, schema.KindDuration:
		var secs int64
		var nanos int32
		if secs, nanos, err = secondsNanos(msg); err == nil {
			if v.Kind == schema.KindTimestamp {
				w.buf, err = appendTimestamp(w.buf, secs, nanos)
			} else {
				w.buf, err = appendDuration(w.buf, secs, nanos)
			}
		}
	case schema.KindFieldMask:
		w.buf, err = w.fieldMask(w.buf, msg)
	case schema.KindJSON:
		w.buf, err = w.op.x.jsonMessage(w.buf, msg, md, 0)
	default:
		err = status.Errorf(codes.Internal, "%s values cannot come from message %s", v.Kind, md.FullName())
	}
	if err != nil {
		w.fail(sf, err)
		return false
	}
	return true
}

// secondsNanos reads a Timestamp or Duration: seconds in field 1, nanos in field 2.
func secondsNanos(msg []byte) (int64, int32, error) {
	var secs int64
	var nanos int32
	it := wireIter{b: msg}
	for {
		wf, ok := it.next()
		if !ok {
			break
		}
		if wf.typ != protowire.VarintType {
			continue
		}
		switch wf.num {
		case 1:
			secs = int64(wf.u)
		case 2:
			nanos = int32(wf.u)
		}
	}
	if it.err != nil {
		return 0, 0, errBadData
	}
	return secs, nanos, nil
}

// fieldMask appends a FieldMask's paths as a list of strings in JSON (lowerCamel) names.
func (w *writer) fieldMask(b []byte, msg []byte) ([]byte, error) {
	b = append(b, '[')
	n := 0
	it := wireIter{b: msg}
	for {
		wf, ok := it.next()
		if !ok {
			break
		}
		if wf.num != 1 || wf.typ != protowire.BytesType {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		w.op.val = camelPath(w.op.val[:0], wf.b)
		b = appendString(b, w.op.val)
	}
	if it.err != nil {
		return b, errBadData
	}
	return append(b, ']'), nil
}

// camelPath converts a field path from proto names to JSON names: foo_bar.baz to fooBar.baz.
func camelPath(b, path []byte) []byte {
	upper := false
	for _, c := range path {
		switch {
		case c == '_':
			upper = true
			continue
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		upper = false
		b = append(b, c)
	}
	return b
}

// scalar writes a scalar value wf of protobuf kind k as v says.
func (w *writer) scalar(wf wireField, k protoreflect.Kind, v *schema.Value, sf *selField) bool {
	switch v.Kind {
	case schema.KindBool:
		if wf.u != 0 {
			w.buf = append(w.buf, "true"...)
		} else {
			w.buf = append(w.buf, "false"...)
		}
	case schema.KindInt32:
		w.buf = strconv.AppendInt(w.buf, int64(int32Of(k, wf.u)), 10)
	case schema.KindUInt32:
		w.buf = strconv.AppendUint(w.buf, uint64(uint32Of(wf.u)), 10)
	case schema.KindInt64:
		w.buf = append(w.buf, '"')
		w.buf = strconv.AppendInt(w.buf, int64Of(k, wf.u), 10)
		w.buf = append(w.buf, '"')
	case schema.KindUInt64:
		w.buf = append(w.buf, '"')
		w.buf = strconv.AppendUint(w.buf, wf.u, 10)
		w.buf = append(w.buf, '"')
	case schema.KindFloat:
		f, bits := floatOf(k, wf.u)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			w.fail(sf, errNotFinite)
			return false
		}
		w.buf = appendFloat(w.buf, f, bits)
	case schema.KindString:
		w.buf = appendString(w.buf, wf.b)
	case schema.KindBytes:
		w.buf = appendBase64(w.buf, wf.b)
	case schema.KindEnum:
		n := protoreflect.EnumNumber(int32(wf.u))
		name, ok := v.Enum.ValueName(n)
		if !ok {
			w.fail(sf, errUnknownEnum(v.Enum, n))
			return false
		}
		w.buf = appendString(w.buf, name)
	default:
		w.fail(sf, status.Errorf(codes.Internal, "cannot write a %s value of kind %s", v.Kind, k))
		return false
	}
	return true
}

// errUnknownEnum is the field error of an enum number the registered descriptor does not declare:
// the upstream was deployed with a newer version of the enum than the one registered. A GraphQL enum
// has no way to carry a number (REST passes it through), so the field fails, and its null goes up
// as for any field error.
func errUnknownEnum(e *schema.Enum, n protoreflect.EnumNumber) error {
	return status.Errorf(codes.Internal, "enum %s has no value numbered %d in the registered descriptors: the upstream knows a newer version; register it again",
		e.Desc.FullName(), n)
}

// link writes link field f of parent: the result of its call, which the waves have made.
func (w *writer) link(parent msgView, f *schema.Field, sf *selField) bool {
	op := w.op
	l := f.Link
	var msg []byte
	if l.Batch != nil {
		key, err := op.linkKey(parent, l)
		if err != nil {
			w.fail(sf, errBadData)
			return false
		}
		e := op.group(l).entries[string(key)]
		switch {
		case e == nil:
			w.fail(sf, errUnresolved(f))
			return false
		case e.err != nil: // the batch call's, or NOT_FOUND for a key its answer lacks
			w.fail(sf, e.err)
			return false
		case !e.found:
			w.fail(sf, errUnresolved(f))
			return false
		}
		msg = e.data
	} else {
		key, err := op.linkCallKey(parent, l)
		if err != nil {
			w.fail(sf, errBadData)
			return false
		}
		c := op.calls[string(key)]
		switch {
		case c == nil:
			w.fail(sf, errUnresolved(f))
			return false
		case c.err != nil:
			w.fail(sf, c.err)
			return false
		}
		msg = c.resp
	}
	if l.ResultField != nil {
		return w.field(view(msg), l.ResultField, &f.Value, sf)
	}
	return w.message(msg, l.Method.Output(), &f.Value, sf)
}

// errUnresolved reports a link the waves did not resolve, which is a bug.
func errUnresolved(f *schema.Field) error {
	return status.Error(codes.Internal, fmt.Sprintf("link %s was not resolved", f.Name))
}
