package resolvers

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/protogate/gateway/schema"
)

// Arguments become the request message directly in its wire form, field by field in declaration
// order, so equal arguments make equal requests. gqlparser has validated the document against the
// schema, and the variables arrive coerced to their declared types (variables.go: a wrong one
// refuses the request before anything runs), with lists as []any like literal lists. What the
// GraphQL types cannot say — that a literal string is an RFC 3339 time, that at most one member of
// a oneof is set, that a JSON value suits its field — is checked here, and so is the one null
// validation lets through where the type is non-null (errNull); a violation is an INVALID_ARGUMENT
// error of the field, and its method is not called.

// argError is an invalid argument: the dotted path to the value and what is wrong with it.
type argError struct {
	path string
	msg  string
}

func (e *argError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return "argument " + e.path + ": " + e.msg
}

// in prefixes name to the path of an argument error.
func in(name string, err error) error {
	var ae *argError
	if errors.As(err, &ae) {
		if ae.path == "" {
			return &argError{path: name, msg: ae.msg}
		}
		return &argError{path: name + "." + ae.path, msg: ae.msg}
	}
	return &argError{path: name, msg: err.Error()}
}

func invalid(format string, args ...any) error { return &argError{msg: fmt.Sprintf(format, args...)} }

// errNull is the error of a null, or no value, for an argument or input field of a non-null type,
// which the request would otherwise leave unset (GraphQL's CoerceArgumentValues: a field error).
// Validation lets only one through: a nullable variable with a default, used where the type is
// non-null and given null.
func errNull() error { return invalid("must not be null: its type is non-null") }

// request encodes the arguments of root field sf as a request message of args.
func (op *operation) request(args *schema.Input, sf *selField) ([]byte, error) {
	if args == nil {
		return nil, nil
	}
	values := make([]any, len(args.Fields))
	for i, f := range args.Fields {
		if a := sf.Arguments.ForName(f.Name); a != nil {
			values[i] = op.argValue(a.Value)
		}
	}
	var b []byte
	err := checkOneofs(args, func(name string) bool {
		i := slices.IndexFunc(args.Fields, func(f *schema.Field) bool { return f.Name == name })
		return i >= 0 && values[i] != nil
	})
	for i, f := range args.Fields {
		if err != nil {
			break
		}
		switch {
		case values[i] != nil:
			if b, err = op.x.appendField(b, f, values[i]); err != nil {
				err = in(f.Name, err)
			}
		case f.NonNull():
			err = in(f.Name, errNull())
		}
	}
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return b, nil
}

// argValue is the value of an argument: variables resolved, numbers kept as json.Number in the
// text they were written in (so no precision is lost before the field's type decides), nil when
// unset or null.
func (op *operation) argValue(v *ast.Value) any {
	if v == nil {
		return nil
	}
	switch v.Kind {
	case ast.Variable:
		if val, ok := op.opCtx.Variables[v.Raw]; ok {
			return val
		}
		if v.VariableDefinition != nil && v.VariableDefinition.DefaultValue != nil {
			return op.argValue(v.VariableDefinition.DefaultValue)
		}
		return nil
	case ast.IntValue, ast.FloatValue:
		return json.Number(v.Raw)
	case ast.StringValue, ast.BlockValue, ast.EnumValue:
		return v.Raw
	case ast.BooleanValue:
		return v.Raw == "true"
	case ast.ListValue:
		list := make([]any, 0, len(v.Children))
		for _, c := range v.Children {
			list = append(list, op.argValue(c.Value))
		}
		return list
	case ast.ObjectValue:
		m := make(map[string]any, len(v.Children))
		for _, c := range v.Children {
			if val := op.argValue(c.Value); val != nil || c.Value.Kind == ast.NullValue {
				m[c.Name] = val // a null written out is kept, as in a variable's value (JSON's y: null)
			}
		}
		return m
	}
	return nil
}

// checkOneofs reports a oneof of input with more than one member set.
func checkOneofs(input *schema.Input, set func(name string) bool) error {
	for _, o := range input.Oneofs {
		var got []string
		for _, name := range o.Fields {
			if set(name) {
				got = append(got, name)
			}
		}
		if len(got) > 1 {
			return invalid("at most one of %s may be set (oneof %s), got %s", strings.Join(o.Fields, ", "), o.Desc.Name(), strings.Join(got, " and "))
		}
	}
	return nil
}

// appendInput appends the fields of input object value m of type in.
func (x *executor) appendInput(b []byte, input *schema.Input, m map[string]any) ([]byte, error) {
	if err := checkOneofs(input, func(name string) bool { return m[name] != nil }); err != nil {
		return b, err
	}
	var err error
	for _, f := range input.Fields {
		v := m[f.Name]
		if v == nil {
			if f.NonNull() {
				return b, in(f.Name, errNull())
			}
			continue
		}
		if b, err = x.appendField(b, f, v); err != nil {
			return b, in(f.Name, err)
		}
	}
	return b, nil
}

// appendField appends field f with value v: every element of a list, the entries of a map.
func (x *executor) appendField(b []byte, f *schema.Field, v any) ([]byte, error) {
	fd := f.Desc
	switch {
	case fd.IsMap():
		m, ok := v.(map[string]any)
		if !ok {
			return b, invalid("want a JSON object for a map, got %s", typeName(v))
		}
		return x.appendMapInput(b, fd, m)
	case fd.IsList():
		list, ok := v.([]any)
		if !ok {
			list = []any{v} // GraphQL input coercion: one value for a list is a list of it
		}
		var err error
		for i, e := range list {
			if e == nil {
				return b, invalid("element %d is null", i)
			}
			if b, err = x.appendSingle(b, fd, &f.Value, e); err != nil {
				return b, in(strconv.Itoa(i), err)
			}
		}
		return b, nil
	}
	return x.appendSingle(b, fd, &f.Value, v)
}

// appendSingle appends one value of field fd, tag included.
func (x *executor) appendSingle(b []byte, fd protoreflect.FieldDescriptor, v *schema.Value, val any) ([]byte, error) {
	md := fd.Message()
	if md == nil {
		b = protowire.AppendTag(b, fd.Number(), wireType(fd.Kind()))
		return appendScalar(b, fd.Kind(), fd.Enum(), val)
	}
	var sub []byte
	var err error
	switch {
	case v.Wrapper:
		inner := md.Fields().ByNumber(1)
		if inner == nil {
			return b, invalid("%s is not a wrapper", md.FullName())
		}
		sub = protowire.AppendTag(nil, 1, wireType(inner.Kind()))
		sub, err = appendScalar(sub, inner.Kind(), inner.Enum(), val)
	case v.Kind == schema.KindMessage:
		m, ok := val.(map[string]any)
		if !ok {
			return b, invalid("want an input object, got %s", typeName(val))
		}
		sub, err = x.appendInput(nil, v.Input, m)
	case v.Kind == schema.KindEmpty:
		if set, ok := val.(bool); !ok || !set {
			return b, nil // false leaves the message unset
		}
	case v.Kind == schema.KindTimestamp, v.Kind == schema.KindDuration:
		s, ok := val.(string)
		if !ok {
			return b, invalid("want a string, got %s", typeName(val))
		}
		var secs int64
		var nanos int32
		if v.Kind == schema.KindTimestamp {
			secs, nanos, err = parseTimestamp(s)
		} else {
			secs, nanos, err = parseDuration(s)
		}
		if secs != 0 {
			sub = protowire.AppendVarint(protowire.AppendTag(sub, 1, protowire.VarintType), uint64(secs))
		}
		if nanos != 0 {
			sub = protowire.AppendVarint(protowire.AppendTag(sub, 2, protowire.VarintType), uint64(int64(nanos)))
		}
	case v.Kind == schema.KindFieldMask:
		sub, err = appendFieldMask(nil, val)
	case v.Kind == schema.KindJSON:
		sub, err = x.appendJSONInput(nil, md, val)
	default:
		err = invalid("%s values cannot be given", v.Kind)
	}
	if err != nil {
		return b, err
	}
	if fd.Kind() == protoreflect.GroupKind {
		return appendCanonicalField(b, fd.Number(), fd.Kind(), sub), nil
	}
	b = protowire.AppendTag(b, fd.Number(), protowire.BytesType)
	return protowire.AppendBytes(b, sub), nil
}

// appendScalar appends a scalar value of kind k (without tag) from a GraphQL or JSON input value:
// integers from numbers or numeric strings, within the kind's range; floats likewise; bytes from
// base64; enums by value name (or number, in JSON).
func appendScalar(b []byte, k protoreflect.Kind, ed protoreflect.EnumDescriptor, val any) ([]byte, error) {
	switch k {
	case protoreflect.BoolKind:
		v, ok := val.(bool)
		if !ok {
			return b, invalid("want a Boolean, got %s", typeName(val))
		}
		return protowire.AppendVarint(b, protowire.EncodeBool(v)), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := toInt(val, math.MinInt32, math.MaxInt32)
		if err != nil {
			return b, err
		}
		switch k {
		case protoreflect.Sint32Kind:
			return protowire.AppendVarint(b, protowire.EncodeZigZag(n)&math.MaxUint32), nil
		case protoreflect.Sfixed32Kind:
			return protowire.AppendFixed32(b, uint32(int32(n))), nil
		}
		return protowire.AppendVarint(b, uint64(n)), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := toUint(val, math.MaxUint32)
		if err != nil {
			return b, err
		}
		if k == protoreflect.Fixed32Kind {
			return protowire.AppendFixed32(b, uint32(n)), nil
		}
		return protowire.AppendVarint(b, n), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := toInt(val, math.MinInt64, math.MaxInt64)
		if err != nil {
			return b, err
		}
		switch k {
		case protoreflect.Sint64Kind:
			return protowire.AppendVarint(b, protowire.EncodeZigZag(n)), nil
		case protoreflect.Sfixed64Kind:
			return protowire.AppendFixed64(b, uint64(n)), nil
		}
		return protowire.AppendVarint(b, uint64(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := toUint(val, math.MaxUint64)
		if err != nil {
			return b, err
		}
		if k == protoreflect.Fixed64Kind {
			return protowire.AppendFixed64(b, n), nil
		}
		return protowire.AppendVarint(b, n), nil
	case protoreflect.FloatKind:
		f, err := toFloat32(val)
		if err != nil {
			return b, err
		}
		return protowire.AppendFixed32(b, math.Float32bits(f)), nil
	case protoreflect.DoubleKind:
		f, err := toFloat(val)
		if err != nil {
			return b, err
		}
		return protowire.AppendFixed64(b, math.Float64bits(f)), nil
	case protoreflect.StringKind:
		s, ok := val.(string)
		if !ok {
			return b, invalid("want a String, got %s", typeName(val))
		}
		if !utf8.ValidString(s) {
			return b, invalid("the string is not valid UTF-8")
		}
		return protowire.AppendString(b, s), nil
	case protoreflect.BytesKind:
		s, ok := val.(string)
		if !ok {
			return b, invalid("want base64 in a string, got %s", typeName(val))
		}
		data, err := base64Decode(s)
		if err != nil {
			return b, invalid("invalid base64: %v", err)
		}
		return protowire.AppendBytes(b, data), nil
	case protoreflect.EnumKind:
		n, err := enumNumber(ed, val)
		if err != nil {
			return b, err
		}
		return protowire.AppendVarint(b, uint64(int64(n))), nil
	}
	return b, invalid("a %s cannot be given", k)
}

// enumNumber reads an enum value by its name, exactly, or, in JSON values, by number.
func enumNumber(ed protoreflect.EnumDescriptor, val any) (protoreflect.EnumNumber, error) {
	values := ed.Values()
	switch v := val.(type) {
	case string:
		if ev := values.ByName(protoreflect.Name(v)); ev != nil {
			return ev.Number(), nil
		}
		return 0, invalid("%s has no value %q", ed.Name(), v)
	case json.Number, int64, int, float64:
		n, err := toInt(v, math.MinInt32, math.MaxInt32)
		return protoreflect.EnumNumber(n), err
	}
	return 0, invalid("want a value of enum %s, got %s", ed.Name(), typeName(val))
}

// toInt reads an integer within [lo, hi] from a number or a string holding one, as protobuf's JSON
// reads an integer field (intText).
func toInt(val any, lo, hi int64) (int64, error) {
	var n int64
	switch v := val.(type) {
	case int64:
		n = v
	case int:
		n = int64(v)
	case int32:
		n = int64(v)
	case float64:
		if v != math.Trunc(v) || v < -(1<<63) || v >= 1<<63 {
			return 0, invalid("%v is not an integer in range", v)
		}
		n = int64(v)
	case json.Number, string:
		s := numberText(v)
		digits, ok := intText(s)
		var err error
		if n, err = strconv.ParseInt(digits, 10, 64); !ok || err != nil {
			return 0, invalid("%q is not an integer in range", s)
		}
	default:
		return 0, invalid("want an integer, got %s", typeName(val))
	}
	if n < lo || n > hi {
		return 0, invalid("%d is out of range [%d, %d]", n, lo, hi)
	}
	return n, nil
}

// toUint reads an unsigned integer up to hi from a number or a string holding one, as protobuf's
// JSON reads an integer field (intText).
func toUint(val any, hi uint64) (uint64, error) {
	var n uint64
	switch v := val.(type) {
	case uint64:
		n = v
	case int64:
		if v < 0 {
			return 0, invalid("%d is negative", v)
		}
		n = uint64(v)
	case int:
		if v < 0 {
			return 0, invalid("%d is negative", v)
		}
		n = uint64(v)
	case float64:
		if v != math.Trunc(v) || v < 0 || v >= 1<<64 {
			return 0, invalid("%v is not an unsigned integer in range", v)
		}
		n = uint64(v)
	case json.Number, string:
		s := numberText(v)
		digits, ok := intText(s)
		var err error
		if n, err = strconv.ParseUint(digits, 10, 64); !ok || err != nil {
			return 0, invalid("%q is not an unsigned integer in range", s)
		}
	default:
		return 0, invalid("want an unsigned integer, got %s", typeName(val))
	}
	if n > hi {
		return 0, invalid("%d is out of range [0, %d]", n, hi)
	}
	return n, nil
}

// intText is the integer that s, a JSON number or the text of one in a string, denotes, in
// decimal digits after an optional '-', as protobuf's JSON reads an integer field (protojson): a
// fraction or an exponent is taken when the value is whole ("1.0", "1e3", "1.5e3", "100e-2"), and
// the digits are shifted exactly, never rounded through a float64 ("12345678901234567.0" is
// 12345678901234567). ok is false for anything else: a fraction ("1.5"), text that is not a JSON
// number ("0x10", "1_000", "+5", "007", " 5", "Infinity"), or a whole value of more than 20 digits,
// beyond every 64-bit integer (strconv checks the range of the others).
func intText(s string) (digits string, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	// The usual case, an integer written plainly: s itself.
	if j := i + digitsAt(s[i:]); j == len(s) && j > i && (s[i] != '0' || j == i+1) && s != "-0" {
		return s, true
	}
	neg, intPart, frac, exp, ok := numberParts(s)
	if !ok {
		return "", false
	}
	frac = strings.TrimRight(frac, "0")
	if intPart == "" && frac == "" {
		return "0", true // zero, however written ("-0", "0.0e5")
	}
	e := 0
	if exp != "" {
		n, err := strconv.ParseInt(exp, 10, 32)
		if err != nil {
			return "", false
		}
		e = int(n)
	}
	var b []byte
	if e >= 0 {
		// The fraction's digits move into the integer, zeros fill the rest of the exponent.
		const maxDigits = 20 // of the largest uint64; more would fail the range check anyway
		if len(frac) > e || len(intPart)+e > maxDigits {
			return "", false
		}
		b = make([]byte, 0, 1+len(intPart)+e)
		if neg {
			b = append(b, '-')
		}
		b = append(append(b, intPart...), frac...)
		for range e - len(frac) {
			b = append(b, '0')
		}
		return string(b), true
	}
	// A negative exponent moves the integer's last digits out, which must all be zeros.
	at := len(intPart) + e
	if frac != "" || at <= 0 || strings.TrimRight(intPart[at:], "0") != "" {
		return "", false
	}
	if neg {
		return "-" + intPart[:at], true
	}
	return intPart[:at], true
}

// numberParts splits s, a JSON number (RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?),
// into its parts: the integer's digits without a leading 0, the fraction's and the exponent's
// (with its sign). ok is false when s is not a JSON number.
func numberParts(s string) (neg bool, intPart, frac, exp string, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		n := digitsAt(s[i:])
		intPart = s[i : i+n]
		i += n
	default:
		return false, "", "", "", false
	}
	if i < len(s) && s[i] == '.' {
		n := digitsAt(s[i+1:])
		if n == 0 {
			return false, "", "", "", false
		}
		frac = s[i+1 : i+1+n]
		i += 1 + n
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		start := i + 1
		i = start
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		n := digitsAt(s[i:])
		if n == 0 {
			return false, "", "", "", false
		}
		exp = s[start : i+n]
		i += n
	}
	return neg, intPart, frac, exp, i == len(s)
}

// digitsAt counts the decimal digits s starts with.
func digitsAt(s string) int {
	n := 0
	for n < len(s) && '0' <= s[n] && s[n] <= '9' {
		n++
	}
	return n
}

// toFloat reads a float from a number, or a string holding one ("NaN" and "Infinity" included, as
// in protobuf's JSON: floatText).
func toFloat(val any) (float64, error) {
	switch v := val.(type) {
	case float64:
		return v, nil
	case int64:
		return float64(v), nil
	case int:
		return float64(v), nil
	case json.Number, string:
		s := numberText(v)
		f, err := strconv.ParseFloat(s, 64)
		if !floatText(s) || err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, invalid("%q is not a number", s)
		}
		return f, nil
	}
	return 0, invalid("want a number, got %s", typeName(val))
}

// float32Overflow is where rounding to 32 bits gives infinity: half a unit in the last place beyond
// the largest float32 (which rounds to even, 2^128).
const float32Overflow = math.MaxFloat32 + 0x1p103

// toFloat32 reads a float as toFloat does, rounded to 32 bits as protobuf's JSON reads it: every
// value that rounds to a finite float32 is taken (3.4028235e+38, the largest, as the gateway
// writes it), and one that rounds to infinity refused. Infinity and NaN themselves are taken.
func toFloat32(val any) (float32, error) {
	switch v := val.(type) {
	case json.Number, string:
		s := numberText(v)
		f, err := strconv.ParseFloat(s, 32) // from the text, not its float64: no double rounding
		switch {
		case err != nil && !errors.Is(err, strconv.ErrRange) || !floatText(s):
			return 0, invalid("%q is not a number", s)
		case err != nil:
			return 0, invalid("%s is beyond the range of a 32-bit float", s)
		}
		return float32(f), nil
	}
	f, err := toFloat(val)
	if err != nil {
		return 0, err
	}
	if math.Abs(f) >= float32Overflow && !math.IsInf(f, 0) {
		return 0, invalid("%v is beyond the range of a 32-bit float", f)
	}
	return float32(f), nil
}

// floatText reports whether s is a float as protobuf's JSON writes one: a JSON number, or "NaN",
// "Infinity" or "-Infinity". strconv.ParseFloat reads Go's literals as well ("0x1p3", "1_000",
// "inf"), which no JSON value holds.
func floatText(s string) bool {
	switch s {
	case "NaN", "Infinity", "-Infinity":
		return true
	}
	_, _, _, _, ok := numberParts(s)
	return ok
}

// numberText is the text of a json.Number or a string, without fmt's allocation.
func numberText(v any) string {
	if n, ok := v.(json.Number); ok {
		return string(n)
	}
	s, _ := v.(string)
	return s
}

// appendFieldMask appends a FieldMask's paths (field 1) from a list of strings; paths may use
// JSON (lowerCamel) or proto names.
func appendFieldMask(b []byte, val any) ([]byte, error) {
	list, ok := val.([]any)
	if !ok {
		list = []any{val}
	}
	for _, p := range list {
		s, ok := p.(string)
		if !ok {
			return b, invalid("want field paths as strings, got %s", typeName(p))
		}
		var path []byte
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' {
				path = append(path, '_', c+'a'-'A')
				continue
			}
			path = append(path, c)
		}
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, path)
	}
	return b, nil
}

// appendJSONInput encodes a JSON value as a Struct, Value, ListValue or Any (md).
func (x *executor) appendJSONInput(b []byte, md protoreflect.MessageDescriptor, val any) ([]byte, error) {
	switch md.FullName() {
	case "google.protobuf.Struct":
		m, ok := val.(map[string]any)
		if !ok {
			return b, invalid("want a JSON object, got %s", typeName(val))
		}
		return appendStructInput(b, m, 0)
	case "google.protobuf.ListValue":
		list, ok := val.([]any)
		if !ok {
			return b, invalid("want a JSON array, got %s", typeName(val))
		}
		return appendListInput(b, list, 0)
	case "google.protobuf.Value":
		return appendValueInput(b, val, 0)
	}
	// Any, or another message in JSON: protojson decides, with the executor's types.
	text, err := json.Marshal(val)
	if err != nil {
		return b, invalid("%v", err)
	}
	var m proto.Message
	if md.FullName() == "google.protobuf.Any" {
		m = &anypb.Any{}
	} else {
		m = dynamicpb.NewMessage(md)
	}
	if err := (protojson.UnmarshalOptions{Resolver: x.types}).Unmarshal(text, m); err != nil {
		return b, invalid("not a valid %s in JSON: %v", md.FullName(), err)
	}
	return proto.MarshalOptions{Deterministic: true}.MarshalAppend(b, m)
}

func appendStructInput(b []byte, m map[string]any, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return b, invalid("JSON nested too deeply")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, err := appendValueInput(nil, m[k], depth+1)
		if err != nil {
			return b, in(k, err)
		}
		entry := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), k)
		entry = protowire.AppendBytes(protowire.AppendTag(entry, 2, protowire.BytesType), v)
		b = protowire.AppendBytes(protowire.AppendTag(b, 1, protowire.BytesType), entry)
	}
	return b, nil
}

func appendListInput(b []byte, list []any, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return b, invalid("JSON nested too deeply")
	}
	for i, e := range list {
		v, err := appendValueInput(nil, e, depth+1)
		if err != nil {
			return b, in(strconv.Itoa(i), err)
		}
		b = protowire.AppendBytes(protowire.AppendTag(b, 1, protowire.BytesType), v)
	}
	return b, nil
}

// appendValueInput encodes any JSON value as a google.protobuf.Value.
func appendValueInput(b []byte, val any, depth int) ([]byte, error) {
	switch v := val.(type) {
	case nil:
		return protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), 0), nil
	case bool:
		return protowire.AppendVarint(protowire.AppendTag(b, 4, protowire.VarintType), protowire.EncodeBool(v)), nil
	case string:
		return protowire.AppendString(protowire.AppendTag(b, 3, protowire.BytesType), v), nil
	case json.Number, float64, int64, int:
		f, err := toFloat(v)
		if err != nil {
			return b, err
		}
		return protowire.AppendFixed64(protowire.AppendTag(b, 2, protowire.Fixed64Type), math.Float64bits(f)), nil
	case map[string]any:
		s, err := appendStructInput(nil, v, depth+1)
		if err != nil {
			return b, err
		}
		return protowire.AppendBytes(protowire.AppendTag(b, 5, protowire.BytesType), s), nil
	case []any:
		l, err := appendListInput(nil, v, depth+1)
		if err != nil {
			return b, err
		}
		return protowire.AppendBytes(protowire.AppendTag(b, 6, protowire.BytesType), l), nil
	}
	return b, invalid("not a JSON value: %s", typeName(val))
}

// appendMapInput appends the entries of a map field from a JSON object, in key order.
func (x *executor) appendMapInput(b []byte, fd protoreflect.FieldDescriptor, m map[string]any) ([]byte, error) {
	kd, vd := fd.MapKey(), fd.MapValue()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		entry, err := x.appendEntry(kd, vd, k, m[k])
		if err != nil {
			return b, in(k, err)
		}
		b = protowire.AppendBytes(protowire.AppendTag(b, fd.Number(), protowire.BytesType), entry)
	}
	return b, nil
}

// appendEntry encodes one map entry: the key from its JSON form, the value from JSON.
func (x *executor) appendEntry(kd, vd protoreflect.FieldDescriptor, key string, val any) ([]byte, error) {
	var kv any = key
	switch kd.Kind() {
	case protoreflect.BoolKind:
		switch key {
		case "true":
			kv = true
		case "false":
			kv = false
		default:
			return nil, invalid("a bool key must be true or false")
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(key, 10, 64) // as protojson reads an integer key: decimal only
		if err != nil {
			return nil, invalid("key %q is not an integer in range", key)
		}
		kv = n
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(key, 10, 64)
		if err != nil {
			return nil, invalid("key %q is not an unsigned integer in range", key)
		}
		kv = n
	}
	entry := protowire.AppendTag(nil, 1, wireType(kd.Kind()))
	entry, err := appendScalar(entry, kd.Kind(), nil, kv)
	if err != nil {
		return nil, err
	}
	if val == nil {
		return nil, invalid("a map value cannot be null")
	}
	if md := vd.Message(); md != nil {
		sub, err := x.appendJSONInput(nil, md, val)
		if err != nil {
			return nil, err
		}
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		return protowire.AppendBytes(entry, sub), nil
	}
	entry = protowire.AppendTag(entry, 2, wireType(vd.Kind()))
	return appendScalar(entry, vd.Kind(), vd.Enum(), val)
}

// typeName names the JSON type of an input value for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a Boolean"
	case string:
		return "a string"
	case json.Number, float64, int64, int, int32:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
