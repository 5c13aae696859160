package transcoder

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/transcoder/textvalue"
)

// Text values (path variables and query parameters) are parsed per the protojson rules for the same
// field, read from a string: numbers in decimal (floats also "NaN", "Infinity", "-Infinity"), bools
// as strconv.ParseBool does (floats and bools by package textvalue, which the GraphQL front's REST
// routes read them by too), bytes in standard or URL-safe base64 with or without padding, enums by
// value name or number. The well-known types read as their JSON forms do: Timestamp in RFC 3339,
// Duration as "1.5s" (or Go's "1m30s"), FieldMask as comma-separated paths (proto or camelCase
// names), wrappers as their value, Struct, Value and ListValue as JSON text, Empty as "" or "{}".

// setText parses text as a value of field fd and stores it in m: appended when fd is repeated, as
// the value of key when fd is a map. A singular field or a map key already set is an error: the
// same field was given twice. zeros records the singular fields set to a zero value that m does not
// report set (fields without presence); nil when each field is set once at most, as path variables
// are.
func setText(m protoreflect.Message, fd protoreflect.FieldDescriptor, key *string, text string, zeros *zeroFields) error {
	switch {
	case fd.IsMap():
		if key == nil {
			return fmt.Errorf("a map takes its entries as %s[key]=value", fd.Name())
		}
		k, err := scalarValue(fd.MapKey(), *key)
		if err != nil {
			return fmt.Errorf("map key %q: %w", *key, err)
		}
		mp := m.Mutable(fd).Map()
		if mp.Has(k.MapKey()) {
			return errSetTwice
		}
		if fd.MapValue().Message() != nil {
			v := mp.NewValue()
			if err := setMessageText(v.Message(), text); err != nil {
				return err
			}
			mp.Set(k.MapKey(), v)
			return nil
		}
		v, err := scalarValue(fd.MapValue(), text)
		if err != nil {
			return err
		}
		mp.Set(k.MapKey(), v)
		return nil
	case key != nil:
		return fmt.Errorf("%s is not a map", fd.Name())
	case fd.IsList():
		list := m.Mutable(fd).List()
		if fd.Message() != nil {
			v := list.NewElement()
			if err := setMessageText(v.Message(), text); err != nil {
				return err
			}
			list.Append(v)
			return nil
		}
		v, err := scalarValue(fd, text)
		if err != nil {
			return err
		}
		list.Append(v)
		return nil
	}
	if m.Has(fd) || zeros.has(m, fd) {
		return errSetTwice
	}
	if oneof := fd.ContainingOneof(); oneof != nil && !oneof.IsSynthetic() {
		if other := m.WhichOneof(oneof); other != nil {
			return fmt.Errorf("oneof %s already has %s set", oneof.Name(), other.Name())
		}
	}
	if fd.Message() != nil {
		v := m.NewField(fd)
		if err := setMessageText(v.Message(), text); err != nil {
			return err
		}
		m.Set(fd, v)
		return nil
	}
	v, err := scalarValue(fd, text)
	if err != nil {
		return err
	}
	m.Set(fd, v)
	if !m.Has(fd) {
		zeros.add(m, fd) // a zero value: m does not show it
	}
	return nil
}

// errSetTwice is setText's error for a singular field or a map key given a second value.
var errSetTwice = errors.New("set more than once")

// zeroFields records the singular fields without presence that were set to their zero value: their
// message reports them unset, so a second value for one would otherwise pass for the first. A few
// are kept inline, so binding a query allocates nothing for them. The nil *zeroFields records none.
type zeroFields struct {
	n      int
	inline [8]zeroField
	more   []zeroField
}

// zeroField is a field of one message: the same field of another message (another instance of
// the type) is another field.
type zeroField struct {
	m  protoreflect.Message
	fd protoreflect.FieldDescriptor
}

// has reports whether field fd of m is recorded.
func (z *zeroFields) has(m protoreflect.Message, fd protoreflect.FieldDescriptor) bool {
	if z == nil {
		return false
	}
	f := zeroField{m, fd}
	for i := range min(z.n, len(z.inline)) {
		if z.inline[i] == f {
			return true
		}
	}
	for _, g := range z.more {
		if g == f {
			return true
		}
	}
	return false
}

// add records field fd of m.
func (z *zeroFields) add(m protoreflect.Message, fd protoreflect.FieldDescriptor) {
	if z == nil {
		return
	}
	if z.n < len(z.inline) {
		z.inline[z.n] = zeroField{m, fd}
	} else {
		z.more = append(z.more, zeroField{m, fd})
	}
	z.n++
}

// scalarValue parses text as a value of a non-message field.
func scalarValue(fd protoreflect.FieldDescriptor, text string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !utf8.ValidString(text) {
			return protoreflect.Value{}, errors.New("not valid UTF-8")
		}
		return protoreflect.ValueOfString(text), nil
	case protoreflect.BoolKind:
		v, ok := textvalue.Bool(text)
		if !ok {
			return protoreflect.Value{}, errors.New("not a bool")
		}
		return protoreflect.ValueOfBool(v), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		v, err := parseInt(text, 32)
		return protoreflect.ValueOfInt32(int32(v)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		v, err := parseInt(text, 64)
		return protoreflect.ValueOfInt64(v), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		v, err := parseUint(text, 32)
		return protoreflect.ValueOfUint32(uint32(v)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		v, err := parseUint(text, 64)
		return protoreflect.ValueOfUint64(v), err
	case protoreflect.FloatKind:
		v, err := parseFloat(text, 32)
		return protoreflect.ValueOfFloat32(float32(v)), err
	case protoreflect.DoubleKind:
		v, err := parseFloat(text, 64)
		return protoreflect.ValueOfFloat64(v), err
	case protoreflect.BytesKind:
		v, err := decodeBase64(text)
		return protoreflect.ValueOfBytes(v), err
	case protoreflect.EnumKind:
		return enumValue(fd, text)
	}
	return protoreflect.Value{}, fmt.Errorf("fields of kind %v cannot be set from text", fd.Kind())
}

func parseInt(text string, bits int) (int64, error) {
	v, err := strconv.ParseInt(text, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("not an int%d", bits)
	}
	return v, nil
}

func parseUint(text string, bits int) (uint64, error) {
	v, err := strconv.ParseUint(text, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("not a uint%d", bits)
	}
	return v, nil
}

// parseFloat reads a float or double by the rule both HTTP fronts share (textvalue.Float).
func parseFloat(text string, bits int) (float64, error) {
	v, ok := textvalue.Float(text, bits)
	switch {
	case ok:
		return v, nil
	case bits == 32:
		return 0, errors.New("not a float")
	}
	return 0, errors.New("not a double")
}

func decodeBase64(text string) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(text, "-_") {
		enc = base64.URLEncoding
	}
	if len(text)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	b, err := enc.DecodeString(text)
	if err != nil {
		return nil, errors.New("not base64")
	}
	return b, nil
}

// enumValue reads an enum by value name or number. Open enums take any number, as protojson does;
// closed ones only their values'.
func enumValue(fd protoreflect.FieldDescriptor, text string) (protoreflect.Value, error) {
	ed := fd.Enum()
	if v := ed.Values().ByName(protoreflect.Name(text)); v != nil {
		return protoreflect.ValueOfEnum(v.Number()), nil
	}
	n, err := strconv.ParseInt(text, 10, 32)
	if err == nil && (!ed.IsClosed() || ed.Values().ByNumber(protoreflect.EnumNumber(n)) != nil) {
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
	}
	return protoreflect.Value{}, fmt.Errorf("not a %s value", ed.FullName())
}

// setMessageText sets a message from text: only the well-known types have a text form.
func setMessageText(m protoreflect.Message, text string) error {
	md := m.Descriptor()
	fields := md.Fields()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		t, err := time.Parse(time.RFC3339Nano, text)
		if err != nil || t.Year() < 1 || t.Year() > 9999 {
			return errors.New("not an RFC 3339 timestamp")
		}
		setInt64(m, fields.ByNumber(1), t.Unix())
		setInt32(m, fields.ByNumber(2), int32(t.Nanosecond()))
		return nil
	case "google.protobuf.Duration":
		secs, nanos, err := parseDuration(text)
		if err != nil {
			return err
		}
		setInt64(m, fields.ByNumber(1), secs)
		setInt32(m, fields.ByNumber(2), nanos)
		return nil
	case "google.protobuf.FieldMask":
		paths := m.Mutable(fields.ByNumber(1)).List()
		for p := range strings.SplitSeq(text, ",") {
			if p = strings.TrimSpace(p); p != "" {
				paths.Append(protoreflect.ValueOfString(snakePath(p)))
			}
		}
		return nil
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		fd := fields.ByNumber(1)
		v, err := scalarValue(fd, text)
		if err != nil {
			return err
		}
		m.Set(fd, v)
		return nil
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		if err := (protojson.UnmarshalOptions{AllowPartial: true}).Unmarshal([]byte(text), m.Interface()); err != nil {
			return fmt.Errorf("not a JSON %s", strings.ToLower(string(md.Name())))
		}
		return nil
	case "google.protobuf.Empty":
		if text != "" && text != "{}" {
			return errors.New(`an Empty takes "" or "{}"`)
		}
		return nil
	}
	return fmt.Errorf("%s has no text form: set its fields one by one", md.FullName())
}

func setInt64(m protoreflect.Message, fd protoreflect.FieldDescriptor, v int64) {
	if fd != nil && v != 0 {
		m.Set(fd, protoreflect.ValueOfInt64(v))
	}
}

func setInt32(m protoreflect.Message, fd protoreflect.FieldDescriptor, v int32) {
	if fd != nil && v != 0 {
		m.Set(fd, protoreflect.ValueOfInt32(v))
	}
}

// maxDurationSeconds is the range of google.protobuf.Duration: about 10,000 years.
const maxDurationSeconds = 315576000000

// parseDuration reads protojson's "1.000340012s" form, or a Go duration ("1m30s").
func parseDuration(text string) (int64, int32, error) {
	bad := errors.New(`not a duration (like "1.5s")`)
	if s, ok := strings.CutSuffix(text, "s"); ok && s != "" && strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != '-' }) < 0 {
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		whole, frac, _ := strings.Cut(s, ".")
		if whole == "" && frac == "" || len(frac) > 9 || strings.Contains(frac, "-") || strings.Contains(whole, "-") {
			return 0, 0, bad
		}
		var secs int64
		if whole != "" {
			v, err := strconv.ParseInt(whole, 10, 64)
			if err != nil || v > maxDurationSeconds {
				return 0, 0, bad
			}
			secs = v
		}
		var nanos int64
		if frac != "" {
			v, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
			if err != nil {
				return 0, 0, bad
			}
			nanos = v
		}
		if neg {
			secs, nanos = -secs, -nanos
		}
		return secs, int32(nanos), nil
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, 0, bad
	}
	return int64(d / time.Second), int32(d % time.Second), nil
}

// snakePath converts a FieldMask path in JSON form ("unitPrice.currencyCode") to proto names; paths
// already in proto form are unchanged.
func snakePath(p string) string {
	if strings.IndexFunc(p, func(r rune) bool { return r >= 'A' && r <= 'Z' }) < 0 {
		return p
	}
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
