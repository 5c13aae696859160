package transcoder

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/transcoder/jsonenc"
)

// The wire-to-JSON encoder renders a response's protobuf bytes straight to the JSON protojson would
// produce (EmitUnpopulated off, JSON names, enums by name), without decoding into a dynamic message:
// per message type a codec, compiled once per snapshot, knows each field's JSON name, kind and
// presence rules. It writes fields in declaration order, as protojson does, keeps the last of
// repeated occurrences of a singular field and the last member of a oneof, drops unknown fields,
// sorts map keys as protojson does, and renders the well-known types Timestamp, Duration, wrappers,
// Struct, Value, ListValue and Empty in their JSON forms. Strings, numbers, bytes and times are
// written by package jsonenc in protojson's forms.
//
// What it does not handle it declines with errSlowPath, and the caller renders through dynamicpb and
// protojson instead, which then also reports any real error: google.protobuf.Any and FieldMask
// values, a singular message field that occurs more than once (the occurrences merge), extensions,
// groups, unknown values of closed enums, invalid UTF-8, out-of-range times, nesting deeper than
// maxWireDepth, and malformed input. FuzzWireJSON holds it to protojson's output on arbitrary input.

var errSlowPath = errors.New("transcoder: not for the wire-to-JSON encoder")

const maxWireDepth = 64

type wktKind uint8

const (
	wktNone wktKind = iota
	wktTimestamp
	wktDuration
	wktWrapper
	wktEmpty
	wktStruct
	wktValue
	wktListValue
	wktSlow // Any, FieldMask: always the slow path
)

// wktOf classifies a message as the well-known type the JSON mapping treats specially, if it is one.
// Both directions (wire to JSON, JSON to wire) share it.
func wktOf(name protoreflect.FullName) wktKind {
	switch name {
	case "google.protobuf.Timestamp":
		return wktTimestamp
	case "google.protobuf.Duration":
		return wktDuration
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return wktWrapper
	case "google.protobuf.Empty":
		return wktEmpty
	case "google.protobuf.Struct":
		return wktStruct
	case "google.protobuf.Value":
		return wktValue
	case "google.protobuf.ListValue":
		return wktListValue
	case "google.protobuf.Any", "google.protobuf.FieldMask":
		return wktSlow
	}
	return wktNone
}

// msgCodec renders one message type.
type msgCodec struct {
	md     protoreflect.MessageDescriptor
	wkt    wktKind
	fields []fieldCodec // in declaration order
	byNum  map[protowire.Number]int32
	dense  []int32 // field index by number, -1 for none, when numbers are small
	oneofs int     // number of real oneofs
}

// fieldCodec renders one field.
type fieldCodec struct {
	fd       protoreflect.FieldDescriptor
	name     string // `"jsonName":`
	kind     protoreflect.Kind
	wire     protowire.Type // the wire type of one unpacked value
	list     bool
	isMap    bool
	presence bool // explicit presence: rendered when on the wire, even at its zero value
	oneof    int  // index of its real oneof, or -1
	closed   bool // a closed enum: unknown values are not set
	utf8     bool // a string proto.Unmarshal validates (proto3, or editions that say so)
	null     bool // google.protobuf.NullValue: rendered as null
	msg      *msgCodec
	key, val *fieldCodec // map entries
}

// codecs builds msgCodecs, sharing one per message type (recursive types included).
type codecs map[protoreflect.FullName]*msgCodec

func (cs codecs) get(md protoreflect.MessageDescriptor) *msgCodec {
	if c, ok := cs[md.FullName()]; ok {
		return c
	}
	c := &msgCodec{md: md, oneofs: md.Oneofs().Len()}
	cs[md.FullName()] = c
	if c.wkt = wktOf(md.FullName()); c.wkt == wktSlow {
		return c
	}
	fields := md.Fields()
	c.fields = make([]fieldCodec, fields.Len())
	maxNum := protowire.Number(0)
	for i := range fields.Len() {
		fd := fields.Get(i)
		c.fields[i] = cs.field(fd)
		maxNum = max(maxNum, fd.Number())
	}
	if maxNum <= 256 {
		c.dense = slices.Repeat([]int32{-1}, int(maxNum)+1)
		for i := range c.fields {
			c.dense[c.fields[i].fd.Number()] = int32(i)
		}
	} else {
		c.byNum = make(map[protowire.Number]int32, len(c.fields))
		for i := range c.fields {
			c.byNum[c.fields[i].fd.Number()] = int32(i)
		}
	}
	return c
}

func (cs codecs) field(fd protoreflect.FieldDescriptor) fieldCodec {
	name, _ := jsonenc.AppendProtoString(nil, fd.JSONName())
	f := fieldCodec{
		fd:       fd,
		name:     string(name) + ":",
		kind:     fd.Kind(),
		wire:     wireType(fd.Kind()),
		list:     fd.IsList(),
		isMap:    fd.IsMap(),
		presence: fd.HasPresence(),
		oneof:    -1,
	}
	if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
		f.oneof = od.Index()
	}
	if f.kind == protoreflect.StringKind {
		f.utf8 = fd.Syntax() == protoreflect.Proto3
		if v, ok := fd.(interface{ EnforceUTF8() bool }); ok && fd.Syntax() == protoreflect.Editions {
			f.utf8 = v.EnforceUTF8()
		}
	}
	if ed := fd.Enum(); ed != nil {
		f.closed = ed.IsClosed()
		f.null = ed.FullName() == "google.protobuf.NullValue"
	}
	if f.isMap {
		k, v := cs.field(fd.MapKey()), cs.field(fd.MapValue())
		f.key, f.val = &k, &v
		return f
	}
	if md := fd.Message(); md != nil {
		f.msg = cs.get(md)
	}
	return f
}

func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return protowire.BytesType
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	default:
		return protowire.VarintType
	}
}

func (c *msgCodec) index(num protowire.Number) int {
	if c.dense != nil {
		if num >= 0 && int(num) < len(c.dense) {
			return int(c.dense[num])
		}
		return -1
	}
	if i, ok := c.byNum[num]; ok {
		return int(i)
	}
	return -1
}

// span is one occurrence of a field on the wire: its value bytes (a varint's or fixed value's
// encoding, or a length-delimited payload).
type span struct {
	field      int32
	typ        protowire.Type
	start, end int32
}

// wireValue is one scalar value read from the wire.
type wireValue struct {
	u uint64 // varint or fixed value
	b []byte // length-delimited payload
}

// appendJSON renders the message in b after out.
func (c *msgCodec) appendJSON(out, b []byte, depth int) ([]byte, error) {
	if depth > maxWireDepth {
		return nil, errSlowPath
	}
	switch c.wkt {
	case wktSlow:
		return nil, errSlowPath
	case wktTimestamp, wktDuration:
		return c.appendTime(out, b)
	case wktEmpty:
		if err := checkFields(b); err != nil {
			return nil, err
		}
		return append(out, "{}"...), nil
	}
	var inline [32]span
	var inlineWinners [4]int32
	winners := inlineWinners[:0]
	if c.oneofs > 0 {
		if c.oneofs > len(inlineWinners) {
			winners = make([]int32, c.oneofs)
		} else {
			winners = inlineWinners[:c.oneofs]
		}
		for i := range winners {
			winners[i] = -1
		}
	}
	spans, err := c.scan(b, inline[:0], winners)
	if err != nil {
		return nil, err
	}
	switch c.wkt {
	case wktWrapper:
		return c.appendWrapper(out, b, spans, depth)
	case wktValue:
		return c.appendValue(out, b, spans, winners, depth)
	case wktStruct:
		if len(spans) == 0 {
			return append(out, "{}"...), nil
		}
		out, _, err := c.fields[0].appendMap(out, b, spans, depth)
		return out, err
	case wktListValue:
		return c.fields[0].appendList(out, b, spans, depth)
	}
	out = append(out, '{')
	first := true
	for i := 0; i < len(spans); {
		j := i + 1
		for j < len(spans) && spans[j].field == spans[i].field {
			j++
		}
		f := &c.fields[spans[i].field]
		run := spans[i:j]
		i = j
		if f.oneof >= 0 && winners[f.oneof] != run[0].field {
			continue
		}
		mark := len(out)
		if !first {
			out = append(out, ',')
		}
		out = append(out, f.name...)
		var wrote bool
		switch {
		case f.isMap:
			out, wrote, err = f.appendMap(out, b, run, depth)
		case f.list:
			out, err = f.appendList(out, b, run, depth)
			wrote = err == nil && out[len(out)-2] != '['
		default:
			out, wrote, err = f.appendSingular(out, b, run, depth)
		}
		if err != nil {
			return nil, err
		}
		if !wrote {
			out = out[:mark]
			continue
		}
		first = false
	}
	return append(out, '}'), nil
}

// scan lists the known fields of b with their expected wire types, sorted by declaration index
// (stable: the wire order stays within a field), and records in winners the last member of each
// oneof on the wire. Unknown fields and values of the wrong wire type are skipped, as
// proto.Unmarshal keeps them as unknown fields that protojson ignores.
func (c *msgCodec) scan(b []byte, spans []span, winners []int32) ([]span, error) {
	sorted := true
	for off := 0; off < len(b); {
		num, typ, n := consumeTag(b[off:])
		if n < 0 {
			return nil, errSlowPath
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		if m < 0 {
			return nil, errSlowPath
		}
		start, end := off+n, off+n+m
		off = end
		idx := c.index(num)
		if idx < 0 {
			if c.md.ExtensionRanges().Has(num) {
				return nil, errSlowPath // an extension protojson might render
			}
			continue
		}
		f := &c.fields[idx]
		if typ != f.wire && !(f.list && typ == protowire.BytesType && f.wire != protowire.BytesType && f.wire != protowire.StartGroupType) {
			if typ == protowire.StartGroupType || f.wire == protowire.StartGroupType {
				return nil, errSlowPath
			}
			continue
		}
		if f.wire == protowire.StartGroupType {
			return nil, errSlowPath
		}
		if typ == protowire.BytesType {
			_, k := protowire.ConsumeVarint(b[start:])
			start += k
		}
		if f.utf8 && !utf8.Valid(b[start:end]) {
			return nil, errSlowPath // proto.Unmarshal refuses it, even when a later value replaces it
		}
		if len(spans) > 0 && spans[len(spans)-1].field > int32(idx) {
			sorted = false
		}
		if f.oneof >= 0 {
			if w := winners[f.oneof]; w >= 0 && w != int32(idx) && c.fields[w].msg != nil {
				return nil, errSlowPath // a replaced message member: proto.Unmarshal decodes it all the same
			}
			winners[f.oneof] = int32(idx)
		}
		spans = append(spans, span{field: int32(idx), typ: typ, start: int32(start), end: int32(end)})
	}
	if !sorted {
		slices.SortStableFunc(spans, func(x, y span) int { return int(x.field - y.field) })
	}
	return spans, nil
}

// checkFields checks that b is well-formed.
func checkFields(b []byte) error {
	if checkWire(b) != nil {
		return errSlowPath
	}
	return nil
}

// appendSingular renders the last value of a singular field; wrote is false when the field is
// unpopulated (an implicit-presence field at its zero value).
func (f *fieldCodec) appendSingular(out, b []byte, run []span, depth int) ([]byte, bool, error) {
	s := run[len(run)-1]
	if f.msg != nil {
		if len(run) > 1 {
			return nil, false, errSlowPath // the occurrences merge
		}
		out, err := f.msg.appendJSON(out, b[s.start:s.end], depth+1)
		return out, true, err
	}
	v := readValue(b, s)
	if !f.presence && isZero(v, s.typ) {
		return out, false, nil
	}
	out, err := f.appendScalar(out, v)
	return out, true, err
}

// appendList renders the values of a repeated field as an array.
func (f *fieldCodec) appendList(out, b []byte, run []span, depth int) ([]byte, error) {
	out = append(out, '[')
	first := true
	for _, s := range run {
		if f.msg != nil {
			if !first {
				out = append(out, ',')
			}
			first = false
			var err error
			if out, err = f.msg.appendJSON(out, b[s.start:s.end], depth+1); err != nil {
				return nil, err
			}
			continue
		}
		if s.typ == protowire.BytesType && f.wire != protowire.BytesType {
			// packed
			for p := b[s.start:s.end]; len(p) > 0; {
				var v wireValue
				var n int
				switch f.wire {
				case protowire.VarintType:
					v.u, n = protowire.ConsumeVarint(p)
				case protowire.Fixed32Type:
					var x uint32
					x, n = protowire.ConsumeFixed32(p)
					v.u = uint64(x)
				default:
					v.u, n = protowire.ConsumeFixed64(p)
				}
				if n < 0 {
					return nil, errSlowPath
				}
				p = p[n:]
				if !first {
					out = append(out, ',')
				}
				first = false
				var err error
				if out, err = f.appendScalar(out, v); err != nil {
					return nil, err
				}
			}
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		var err error
		if out, err = f.appendScalar(out, readValue(b, s)); err != nil {
			return nil, err
		}
	}
	return append(out, ']'), nil
}

// mapEntry is one decoded map entry.
type mapEntry struct {
	key    wireValue
	val    wireValue
	hasVal bool
	skey   string // the key as protojson writes it
	ikey   int64  // a signed key's value, for sorting
}

// appendMap renders a map field as an object with sorted keys, the last entry of a key winning.
func (f *fieldCodec) appendMap(out, b []byte, run []span, depth int) ([]byte, bool, error) {
	var inline [16]mapEntry
	entries := inline[:0]
	for _, s := range run {
		e, err := f.entry(b[s.start:s.end])
		if err != nil {
			return nil, false, err
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return out, false, nil
	}
	// Sort stably by key, then keep the last entry of each key. A replaced message value was decoded
	// all the same by proto.Unmarshal, which may have failed on it: leave that to the slow path.
	slices.SortStableFunc(entries, f.key.compareKeys)
	if f.val.msg != nil {
		for i := 1; i < len(entries); i++ {
			if entries[i].skey == entries[i-1].skey {
				return nil, false, errSlowPath
			}
		}
	}
	out = append(out, '{')
	first := true
	for i, e := range entries {
		if i+1 < len(entries) && entries[i+1].skey == e.skey {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		var err error
		if out, err = jsonenc.AppendProtoString(out, e.skey); err != nil {
			return nil, false, errSlowPath
		}
		out = append(out, ':')
		switch {
		case f.val.msg != nil:
			out, err = f.val.msg.appendJSON(out, e.val.b, depth+1)
		default:
			out, err = f.val.appendScalar(out, e.val)
		}
		if err != nil {
			return nil, false, err
		}
	}
	return append(out, '}'), true, nil
}

// entry decodes one map entry: key field 1, value field 2, either possibly absent (zero).
func (f *fieldCodec) entry(p []byte) (mapEntry, error) {
	var e mapEntry
	for len(p) > 0 {
		num, typ, n := consumeTag(p)
		if n < 0 {
			return e, errSlowPath
		}
		m := protowire.ConsumeFieldValue(num, typ, p[n:])
		if m < 0 {
			return e, errSlowPath
		}
		s := span{typ: typ, start: int32(n), end: int32(n + m)}
		if typ == protowire.BytesType {
			_, k := protowire.ConsumeVarint(p[n:])
			s.start += int32(k)
		}
		v := readValue(p, s)
		p = p[n+m:]
		var fc *fieldCodec
		switch num {
		case 1:
			fc = f.key
		case 2:
			fc = f.val
		default:
			continue
		}
		if typ != fc.wire {
			// proto.Unmarshal mishandles a key or value of the wrong wire type (it may even panic):
			// leave it to the slow path, which fails it.
			return e, errSlowPath
		}
		if fc.utf8 && !utf8.Valid(v.b) {
			return e, errSlowPath
		}
		if num == 1 {
			e.key = v
			continue
		}
		if fc.msg != nil && e.hasVal {
			return e, errSlowPath // two values of a message type merge
		}
		e.val, e.hasVal = v, true
	}
	key, err := f.key.mapKey(e.key)
	e.skey = key
	switch f.key.kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		e.ikey, _ = strconv.ParseInt(key, 10, 64)
	}
	return e, err
}

// mapKey is the JSON object key of a map key value.
func (f *fieldCodec) mapKey(v wireValue) (string, error) {
	switch f.kind {
	case protoreflect.StringKind:
		if !utf8.Valid(v.b) {
			return "", errSlowPath
		}
		return unsafeString(v.b), nil // lives no longer than the rendering of the map
	case protoreflect.BoolKind:
		return strconv.FormatBool(v.u != 0), nil
	case protoreflect.Int32Kind:
		return strconv.FormatInt(int64(int32(v.u)), 10), nil
	case protoreflect.Sint32Kind:
		return strconv.FormatInt(int64(int32(protowire.DecodeZigZag(v.u&math.MaxUint32))), 10), nil
	case protoreflect.Sfixed32Kind:
		return strconv.FormatInt(int64(int32(uint32(v.u))), 10), nil
	case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(int64(v.u), 10), nil
	case protoreflect.Sint64Kind:
		return strconv.FormatInt(protowire.DecodeZigZag(v.u), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.FormatUint(uint64(uint32(v.u)), 10), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.u, 10), nil
	}
	return "", errSlowPath
}

// compareKeys orders map entries as protojson does: false before true, numbers numerically,
// strings by bytes.
func (f *fieldCodec) compareKeys(x, y mapEntry) int {
	switch f.kind {
	case protoreflect.StringKind:
		return strings.Compare(x.skey, y.skey)
	case protoreflect.BoolKind:
		return cmpBool(x.key.u != 0, y.key.u != 0)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return cmpOrdered(uint32(x.key.u), uint32(y.key.u))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return cmpOrdered(x.key.u, y.key.u)
	default:
		return cmpOrdered(x.ikey, y.ikey)
	}
}

func cmpBool(x, y bool) int {
	switch {
	case x == y:
		return 0
	case !x:
		return -1
	default:
		return 1
	}
}

func cmpOrdered[T int64 | uint64 | uint32](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func readValue(b []byte, s span) wireValue {
	p := b[s.start:s.end]
	switch s.typ {
	case protowire.VarintType:
		u, _ := protowire.ConsumeVarint(p)
		return wireValue{u: u}
	case protowire.Fixed32Type:
		u, _ := protowire.ConsumeFixed32(p)
		return wireValue{u: uint64(u)}
	case protowire.Fixed64Type:
		u, _ := protowire.ConsumeFixed64(p)
		return wireValue{u: u}
	}
	return wireValue{b: p}
}

func isZero(v wireValue, typ protowire.Type) bool {
	if typ == protowire.BytesType {
		return len(v.b) == 0
	}
	return v.u == 0
}

// appendScalar renders one non-message value.
func (f *fieldCodec) appendScalar(out []byte, v wireValue) ([]byte, error) {
	switch f.kind {
	case protoreflect.BoolKind:
		return strconv.AppendBool(out, v.u != 0), nil
	case protoreflect.Int32Kind:
		return strconv.AppendInt(out, int64(int32(v.u)), 10), nil
	case protoreflect.Sint32Kind:
		return strconv.AppendInt(out, int64(int32(protowire.DecodeZigZag(v.u&math.MaxUint32))), 10), nil
	case protoreflect.Sfixed32Kind:
		return strconv.AppendInt(out, int64(int32(uint32(v.u))), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(out, uint64(uint32(v.u)), 10), nil
	case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
		out = append(out, '"')
		return append(strconv.AppendInt(out, int64(v.u), 10), '"'), nil
	case protoreflect.Sint64Kind:
		out = append(out, '"')
		return append(strconv.AppendInt(out, protowire.DecodeZigZag(v.u), 10), '"'), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		out = append(out, '"')
		return append(strconv.AppendUint(out, v.u, 10), '"'), nil
	case protoreflect.FloatKind:
		return jsonenc.AppendFloat(out, float64(math.Float32frombits(uint32(v.u))), 32), nil
	case protoreflect.DoubleKind:
		return jsonenc.AppendFloat(out, math.Float64frombits(v.u), 64), nil
	case protoreflect.StringKind:
		out, err := jsonenc.AppendProtoString(out, v.b)
		if err != nil {
			return nil, errSlowPath
		}
		return out, nil
	case protoreflect.BytesKind:
		return jsonenc.AppendBase64(out, v.b), nil
	case protoreflect.EnumKind:
		if f.null {
			return append(out, "null"...), nil
		}
		n := protoreflect.EnumNumber(int32(v.u))
		if ev := f.fd.Enum().Values().ByNumber(n); ev != nil {
			out = append(out, '"')
			out = append(out, ev.Name()...)
			return append(out, '"'), nil
		}
		if f.closed {
			return nil, errSlowPath // not set: proto.Unmarshal keeps it as an unknown field
		}
		return strconv.AppendInt(out, int64(n), 10), nil
	}
	return nil, errSlowPath
}

// unsafeString views b as a string for reading only.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// appendWrapper renders a wrapper: its value, or the value's zero when unset.
func (c *msgCodec) appendWrapper(out, b []byte, spans []span, depth int) ([]byte, error) {
	f := &c.fields[0]
	if len(spans) > 0 {
		out, wrote, err := f.appendSingular(out, b, spans, depth)
		if err != nil || wrote {
			return out, err
		}
	}
	return f.appendScalar(out, wireValue{})
}

// appendValue renders a google.protobuf.Value: the JSON value its kind holds.
func (c *msgCodec) appendValue(out, b []byte, spans []span, winners []int32, depth int) ([]byte, error) {
	if len(winners) == 0 || winners[0] < 0 {
		return nil, errSlowPath // no kind set: protojson refuses it
	}
	kind := winners[0]
	i := slices.IndexFunc(spans, func(s span) bool { return s.field == kind })
	j := i
	for j < len(spans) && spans[j].field == kind {
		j++
	}
	run := spans[i:j]
	f := &c.fields[kind]
	if f.kind == protoreflect.DoubleKind {
		if x := math.Float64frombits(readValue(b, run[len(run)-1]).u); math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errSlowPath
		}
	}
	out, _, err := f.appendSingular(out, b, run, depth)
	return out, err
}

// appendTime renders a Timestamp (RFC 3339, Z, 0/3/6/9 fractional digits) or a Duration ("1.5s").
func (c *msgCodec) appendTime(out, b []byte) ([]byte, error) {
	var secs int64
	var nanos int32
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return nil, errSlowPath
		}
		b = b[n:]
		if typ == protowire.VarintType && (num == 1 || num == 2) {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return nil, errSlowPath
			}
			b = b[m:]
			if num == 1 {
				secs = int64(v)
			} else {
				nanos = int32(v)
			}
			continue
		}
		if typ == protowire.StartGroupType {
			return nil, errSlowPath
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil, errSlowPath
		}
		b = b[m:]
	}
	var ok bool
	if c.wkt == wktTimestamp {
		out, ok = jsonenc.AppendTimestamp(out, secs, nanos)
	} else {
		out, ok = jsonenc.AppendDuration(out, secs, nanos)
	}
	if !ok {
		return nil, errSlowPath // out of range: protojson refuses it
	}
	return out, nil
}

// consumeTag reads a field tag, refusing field numbers proto.Unmarshal refuses.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n >= 0 && num > protowire.MaxValidNumber {
		return 0, 0, -1
	}
	return num, typ, n
}
