package transcoder

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// A JSON body that protojson refuses for a value (a number for a string, a name its enum lacks, a
// key given twice) is named by the place of that value in the body, as unknown keys are
// (unknown_field.go): protojson's error gives the value's line and column, and the body is read
// again, on that error only, to find the path that leads there.

// jsonPosition reads protojson's "(line L:C)" from an error message: ok when it has one.
func jsonPosition(msg string) (line, col int, ok bool) {
	_, rest, found := strings.Cut(msg, "(line ")
	if !found {
		return 0, 0, false
	}
	pos, _, found := strings.Cut(rest, ")")
	ls, cs, found2 := strings.Cut(pos, ":")
	if !found || !found2 {
		return 0, 0, false
	}
	l, err1 := strconv.Atoi(ls)
	c, err2 := strconv.Atoi(cs)
	return l, c, err1 == nil && err2 == nil && l > 0 && c > 0
}

// byteOffset converts a 1-based line and column (in runes, as protojson counts) into an offset in
// data; ok when it is inside data.
func byteOffset(data []byte, line, col int) (int, bool) {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(string(data[off:]), '\n')
		if i < 0 {
			return 0, false
		}
		off += i + 1
	}
	for c := 1; c < col; c++ {
		if off >= len(data) {
			return 0, false
		}
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	return off, off < len(data)
}

// jsonPathAt returns the path in data ("user.address.city", "items[1].quantity") of the value or
// key that starts at offset off; "" and false when no token starts there or data does not read as
// JSON up to it.
func jsonPathAt(data []byte, off int) (string, bool) {
	type frame struct {
		object bool
		key    string // of the member being read, in an object
		index  int    // of the element being read, in an array
		path   string // of the container
	}
	var stack []frame
	here := func() string { // the path of the value about to be read
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.object {
			return strings.TrimPrefix(f.path+"."+f.key, ".")
		}
		return f.path + "[" + strconv.Itoa(f.index) + "]"
	}
	expectKey := false
	for i := 0; i < len(data); {
		c := data[i]
		switch c {
		case ' ', '\t', '\r', '\n', ':':
			i++
			continue
		case ',':
			if len(stack) > 0 {
				if f := &stack[len(stack)-1]; f.object {
					expectKey = true
				} else {
					f.index++
				}
			}
			i++
			continue
		}
		if i == off {
			if expectKey {
				key, _, _ := readJSONString(data, i)
				f := stack[len(stack)-1]
				return strings.TrimPrefix(f.path+"."+key, "."), true
			}
			return here(), true
		}
		if i > off {
			return "", false
		}
		switch c {
		case '{', '[':
			stack = append(stack, frame{object: c == '{', path: here()})
			expectKey = c == '{'
			i++
		case '}', ']':
			if len(stack) == 0 {
				return "", false
			}
			stack = stack[:len(stack)-1]
			expectKey = false
			i++
		case '"':
			s, end, ok := readJSONString(data, i)
			if !ok {
				return "", false
			}
			if expectKey {
				stack[len(stack)-1].key = s
				expectKey = false
			}
			i = end
		default: // a number or a literal
			for i < len(data) && !strings.ContainsRune(" \t\r\n,:{}[]\"", rune(data[i])) {
				i++
			}
		}
	}
	return "", false
}

// readJSONString reads the string starting at data[i] (a '"'): its text with escapes left as
// written, and the offset after its closing quote.
func readJSONString(data []byte, i int) (string, int, bool) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return string(data[i+1 : j]), j + 1, true
		}
	}
	return "", 0, false
}

// unwrapPosition rewrites the "(line L:C)" of protojson's error message msg about a body of one field
// (j.fd), which was parsed wrapped in {"<field>": ...}, to the position in the body as it was sent:
// on line 1 the column counts the wrapper's prefix. Other messages are returned as they are.
func (j *jsonBody) unwrapPosition(msg string) string {
	line, col, ok := jsonPosition(msg)
	if j == nil || j.fd == nil || !ok || line != 1 {
		return msg
	}
	prefix := len(`{"`) + len(j.fd.Name()) + len(`":`)
	if col <= prefix {
		return msg // in the wrapper itself: no place in the body
	}
	return strings.Replace(msg, "(line 1:"+strconv.Itoa(col)+")", "(line 1:"+strconv.Itoa(col-prefix)+")", 1)
}

// pathOf returns the path in j of the value (or key) protojson's error message msg points at, below
// the body's field and written as unknownKeyPath writes it: "" and false when msg has no position
// or it leads nowhere. The position is in the body as it was sent (see unwrapPosition).
func (j *jsonBody) pathOf(msg string) (string, bool) {
	line, col, ok := jsonPosition(msg)
	if j == nil || !ok {
		return "", false
	}
	data := j.data
	off, ok := byteOffset(data, line, col)
	if !ok {
		return "", false
	}
	path, ok := jsonPathAt(data, off)
	if !ok {
		return "", false
	}
	if j.fd != nil {
		path = mapKeys(nil, j.fd, path)
	} else {
		path = mapKeys(j.md, nil, path)
	}
	if path == "" && j.fd == nil {
		return "", false // the whole body: nothing to add to its name
	}
	if path != "" && path[0] != '[' {
		path = "." + path // as unknownKeyPath writes it: "." before a key, "[" before an index
	}
	return path, true
}

// mapKeys rewrites the members of map fields in path, read beside message md (or a value of field
// fd), as the unknown-key paths write them: "byNum.7.id" is "byNum[7].id". Past a field it cannot
// follow (free-form JSON, an Any) the path is left as it is.
func mapKeys(md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, path string) string {
	var b strings.Builder
	rest := path
	for rest != "" {
		if fd != nil { // the value of fd comes next: an element, a map entry, or a message's member
			switch {
			case fd.IsList() && strings.HasPrefix(rest, "["):
				end := strings.IndexByte(rest, ']') + 1
				b.WriteString(rest[:end])
				rest = rest[end:]
				if fd.Message() == nil {
					return b.String() + rest
				}
				md, fd = fd.Message(), nil
				continue
			case fd.IsMap() && rest[0] != '[':
				key, tail, _ := strings.Cut(strings.TrimPrefix(rest, "."), ".")
				if i := strings.IndexByte(key, '['); i >= 0 {
					key, tail = key[:i], key[i:]+strings.TrimPrefix("."+tail, ".")
				} else if tail != "" {
					tail = "." + tail
				}
				b.WriteString("[" + key + "]")
				rest = tail
				fd = fd.MapValue()
				if fd.Message() == nil {
					return b.String() + rest
				}
				md, fd = fd.Message(), nil
				continue
			case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
				md, fd = fd.Message(), nil
				continue
			default:
				return b.String() + rest
			}
		}
		if md == nil || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
			return b.String() + rest
		}
		seg := strings.TrimPrefix(rest, ".")
		name := seg
		if i := strings.IndexAny(seg, ".["); i >= 0 {
			name = seg[:i]
		}
		f := md.Fields().ByJSONName(name)
		if f == nil {
			f = md.Fields().ByTextName(name)
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(name)
		rest = seg[len(name):]
		if f == nil {
			return b.String() + rest
		}
		fd, md = f, nil
	}
	return b.String()
}
