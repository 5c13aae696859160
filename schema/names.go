package schema

import (
	"strings"
	"unicode"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// TypeName is the GraphQL name of a message or enum without a package prefix: its name within its
// package, nested names joined by '_' (shop.users.v1.User.Address -> User_Address). The registry
// checks collisions with it.
func TypeName(d protoreflect.Descriptor) string { return typeName(d, nil) }

// FieldName is the GraphQL root field name of a method: lowerCamel (GetUser -> getUser).
func FieldName(method string) string { return lowerCamel(method) }

// typeName is the GraphQL name of a message or enum: the package's prefix (Options.Prefixes), then its
// name within its package with nested names joined by '_' (shop.users.v1.User.Address ->
// User_Address). Without a prefix it is TypeName.
func typeName(d protoreflect.Descriptor, prefixes map[string]string) string {
	full := string(d.FullName())
	pkg := string(d.ParentFile().Package())
	if pkg != "" {
		full = strings.TrimPrefix(full, pkg+".")
	}
	return prefixes[pkg] + strings.ReplaceAll(full, ".", "_")
}

// lowerCamel turns a method name into a GraphQL field name: GetUser -> getUser, BatchGetUsers ->
// batchGetUsers, URLLookup -> urlLookup.
func lowerCamel(s string) string {
	r := []rune(s)
	for i := range r {
		if !unicode.IsUpper(r[i]) {
			break
		}
		if i > 0 && i+1 < len(r) && !unicode.IsUpper(r[i+1]) {
			break
		}
		r[i] = unicode.ToLower(r[i])
	}
	return string(r)
}

// validName reports whether s is a GraphQL name ([_A-Za-z][_0-9A-Za-z]*) that is not reserved for
// introspection (a leading "__").
func validName(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// description returns the comments of a descriptor as written in its .proto file: the leading
// comment, or else the trailing one, without the comment markers' conventional space. It is empty
// for descriptors without source info (generated Go, most reflection servers).
func description(d protoreflect.Descriptor) string {
	loc := d.ParentFile().SourceLocations().ByDescriptor(d)
	text := loc.LeadingComments
	if strings.TrimSpace(text) == "" {
		text = loc.TrailingComments
	}
	if strings.TrimSpace(text) == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.TrimPrefix(l, " "), " \t\r")
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}
