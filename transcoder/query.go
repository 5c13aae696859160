package transcoder

import (
	"fmt"
	"net/url"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxQueryPath bounds the nesting of a query parameter name ("a.b.c..."): deeper names are refused.
const maxQueryPath = 32

// bindQuery sets the fields named by the query parameters of rawQuery in m. Names are dotted field
// paths in proto or JSON names ("filter.role", "pageSize"); a map entry is "labels[key]=value"; a
// repeated field takes each value in order ("ids=1&ids=2"). Parameters that name no field are
// ignored, as grpc-gateway and Envoy do (clients add cache busters and tracking parameters), and so
// are parameters naming a field the path or body binds. A singular field or a map key given twice
// is an error, whatever the values (a zero value included) and however the names are spelt. The
// query is read in place: nothing is allocated for names and values without escapes.
func (b *Binding) bindQuery(m protoreflect.Message, rawQuery string) error {
	if b.body == "*" {
		return nil
	}
	var zeros zeroFields
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := queryUnescape(rawKey)
		if err != nil {
			return badRequest(rawKey, fmt.Sprintf("invalid query parameter name %q: %v", rawKey, err))
		}
		if key == "" {
			continue
		}
		value, err := queryUnescape(rawValue)
		if err != nil {
			return badRequest(key, fmt.Sprintf("invalid value for query parameter %s: %v", key, err))
		}
		if err := b.setQuery(m, key, value, &zeros); err != nil {
			return err
		}
	}
	return nil
}

// setQuery sets one query parameter; zeros holds the fields earlier ones set to zero values.
func (b *Binding) setQuery(m protoreflect.Message, key, value string, zeros *zeroFields) error {
	name, mapKey := key, (*string)(nil)
	if i := strings.IndexByte(key, '['); i > 0 && strings.HasSuffix(key, "]") {
		k := key[i+1 : len(key)-1]
		name, mapKey = key[:i], &k
	}
	// Resolve the names without touching m: a parameter that names no field, or a bound one, must not
	// create the messages on its way.
	var path [maxQueryPath]protoreflect.FieldDescriptor
	depth := 0
	md := m.Descriptor()
	for rest := name; ; {
		part, more, nested := strings.Cut(rest, ".")
		if depth == maxQueryPath {
			return badRequest(key, fmt.Sprintf("query parameter %s is nested too deeply", key))
		}
		fd := fieldByName(md, part)
		if fd == nil {
			return nil // names no field
		}
		path[depth] = fd
		depth++
		if !nested {
			break
		}
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return badRequest(key, fmt.Sprintf("query parameter %s: %s is not a singular message", key, fd.Name()))
		}
		md, rest = fd.Message(), more
	}
	if b.boundPrefix(path[:depth]) {
		return nil
	}
	for _, fd := range path[:depth-1] {
		m = m.Mutable(fd).Message()
	}
	if err := setText(m, path[depth-1], mapKey, value, zeros); err != nil {
		return badRequest(key, fmt.Sprintf("invalid value %q for query parameter %s: %v", value, key, err))
	}
	return nil
}

// boundPrefix reports whether the field path is bound by the path or body, or contains a field that
// is (setting it whole would overwrite the bound value).
func (b *Binding) boundPrefix(path []protoreflect.FieldDescriptor) bool {
	for _, bp := range b.bound {
		n := min(len(bp), len(path))
		same := true
		for i := range n {
			if bp[i] != path[i] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// queryUnescape decodes a query component: escapes, and '+' as a space.
func queryUnescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}
