package transcoder

import (
	"bytes"
	"encoding/json"
	"iter"
	"strconv"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// An unknown key in a JSON body is named by its place in the body, as the client wrote it:
// "address.nope", "items[0].nope", "byNum[5].nope". protojson's error names the key alone, so on
// that error (and only then) the body is read again beside its descriptor to find the first key
// of that name that its message lacks.

// jsonBody is a JSON request body as protojson read it: a message of md, or, when fd is set, a
// value of field fd (a scalar, repeated or map body field).
type jsonBody struct {
	data []byte
	md   protoreflect.MessageDescriptor
	fd   protoreflect.FieldDescriptor
}

// unknownKeyPath returns the path in j of the first key named key (as protojson reports it) that
// the message holding it lacks: "" and false when j is nil or the key is not found. The path
// starts with "." before a key and "[" before an index or map key.
func (j *jsonBody) unknownKeyPath(key string) (string, bool) {
	if j == nil {
		return "", false
	}
	f := keyFinder{key: key}
	var path string
	var ok bool
	if j.fd != nil {
		path, ok = f.field(j.fd, j.data)
	} else {
		path, ok = f.message(j.md, j.data)
	}
	return path, ok && !f.blind
}

// keyFinder walks a JSON value beside its descriptor to find an unknown key.
type keyFinder struct {
	key string
	// blind is set when an Any before the key's first place holds the key: protojson, which
	// resolves the Any's type, may have refused it there, where the finder cannot look.
	blind bool
}

// message finds the key in raw, a value of message md.
func (f *keyFinder) message(md protoreflect.MessageDescriptor, raw []byte) (string, bool) {
	switch md.FullName() {
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		return "", false // free-form JSON: no key is unknown
	case "google.protobuf.Any":
		f.blind = f.blind || bytes.Contains(raw, []byte(`"`+f.key+`"`))
		return "", false
	}
	fields := md.Fields()
	for name, v := range members(raw) {
		fd := fields.ByJSONName(name)
		if fd == nil {
			fd = fields.ByTextName(name)
		}
		if fd == nil {
			if name == f.key {
				return "." + name, true
			}
			continue
		}
		if p, ok := f.field(fd, v); ok {
			return "." + name + p, true
		}
	}
	return "", false
}

// field finds the key in raw, a value of field fd.
func (f *keyFinder) field(fd protoreflect.FieldDescriptor, raw []byte) (string, bool) {
	switch {
	case fd.IsMap():
		if fd.MapValue().Message() == nil {
			return "", false
		}
		for k, v := range members(raw) {
			if p, ok := f.message(fd.MapValue().Message(), v); ok {
				return "[" + k + "]" + p, true
			}
		}
	case fd.Message() == nil: // a scalar, or a list of them: no keys
	case fd.IsList():
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return "", false
		}
		for i, v := range elems {
			if p, ok := f.message(fd.Message(), v); ok {
				return "[" + strconv.Itoa(i) + "]" + p, true
			}
		}
	default:
		return f.message(fd.Message(), raw)
	}
	return "", false
}

// members yields the keys and values of raw, in order, when it is a JSON object; it stops early
// at anything malformed.
func members(raw []byte) iter.Seq2[string, json.RawMessage] {
	return func(yield func(string, json.RawMessage) bool) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return
		}
		for dec.More() {
			t, err := dec.Token()
			name, ok := t.(string)
			if err != nil || !ok {
				return
			}
			var v json.RawMessage
			if dec.Decode(&v) != nil || !yield(name, v) {
				return
			}
		}
	}
}
