package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// decoder fills typed values from a yaml.Node tree. Unlike yaml's own
// decoding it reports every problem (unknown fields, duplicate keys,
// wrong kinds) rather than the first, records where each field is written
// for the checks that follow, and expands aliases within a budget.
type decoder struct {
	*source
	budget int                 // nodes left to visit; aliases can multiply them
	active map[*yaml.Node]bool // anchored nodes being decoded, to catch cycles
}

// aliasExpansion bounds how much aliases may grow a document: nodes
// visited at most aliasExpansion times the nodes written, plus slack.
const (
	aliasExpansion = 4
	aliasSlack     = 10000
)

var (
	durationType = reflect.TypeFor[time.Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
)

// shorthand is implemented by types that accept a scalar in place of
// their mapping form.
type shorthand interface {
	setScalar(value string)
}

func newDecoder(src *source, root *yaml.Node) *decoder {
	return &decoder{
		source: src,
		budget: aliasExpansion*countNodes(root) + aliasSlack,
		active: map[*yaml.Node]bool{},
	}
}

// decode fills v, which must be settable, from n, the value of the field
// at path.
func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) {
	if v.Kind() == reflect.Pointer {
		// An optional value: nil unless the file writes it.
		elem := reflect.New(v.Type().Elem())
		d.decode(path, n, elem.Elem())
		if d.has(path) {
			v.Set(elem)
		}
		return
	}
	n, ok := d.enter(path, n)
	if !ok {
		return
	}
	defer d.leave(n)
	if n.ShortTag() == "!!null" {
		return // null leaves the zero value: the field is not set
	}
	d.record(path, n)
	switch {
	case v.Type() == durationType:
		d.duration(path, n, v)
	case v.Type() == byteSizeType:
		d.byteSize(path, n, v)
	case v.Kind() == reflect.Struct:
		if s, ok := v.Addr().Interface().(shorthand); ok && n.Kind == yaml.ScalarNode {
			s.setScalar(n.Value)
			return
		}
		d.structure(path, n, v)
	case v.Kind() == reflect.Slice:
		d.list(path, n, v)
	case v.Kind() == reflect.Map:
		d.mapping(path, n, v)
	case v.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.mismatch(path, n, "a string")
			return
		}
		v.SetString(n.Value)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || err != nil {
			d.mismatch(path, n, "true or false")
			return
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int:
		if i, ok := d.integer(path, n); ok {
			if v.OverflowInt(i) {
				d.nodef(n, path, "%d is out of range", i)
				return
			}
			v.SetInt(i)
		}
	default:
		panic(fmt.Sprintf("config: no decoding for %s at %s", v.Type(), path))
	}
}

// enter follows n if it is an alias and spends budget on visiting the
// node. It reports false, having recorded a problem, when aliases expand
// too far or refer to themselves. A true result must be matched by leave.
func (d *decoder) enter(path string, n *yaml.Node) (*yaml.Node, bool) {
	if d.budget <= 0 {
		return nil, false
	}
	if d.budget--; d.budget == 0 {
		d.nodef(n, "", "aliases expand the document too far")
		return nil, false
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.active[n] {
		d.nodef(n, path, "anchor &%s contains an alias to itself", n.Anchor)
		d.broken[path] = true
		return nil, false
	}
	if n.Anchor != "" {
		d.active[n] = true
	}
	return n, true
}

// exhausted reports whether decoding stopped because aliases expanded
// the document too far.
func (d *decoder) exhausted() bool { return d.budget <= 0 }

func (d *decoder) leave(n *yaml.Node) {
	if n.Anchor != "" {
		delete(d.active, n)
	}
}

// structure fills the struct v from mapping n, matching keys to yaml tags.
func (d *decoder) structure(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.mismatch(path, n, "a mapping")
		return
	}
	t := v.Type()
	for _, e := range d.entries(path, n) {
		i := fieldIndex(t, e.key.Value)
		if i < 0 {
			d.nodef(e.key, field(path, printable(e.key.Value)), "unknown field (known: %s)", fieldNames(t))
			continue
		}
		d.decode(field(path, e.key.Value), e.value, v.Field(i))
	}
}

// list fills the slice v from sequence n.
func (d *decoder) list(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.mismatch(path, n, "a list")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(index(path, i), item, s.Index(i))
	}
	v.Set(s)
}

// mapping fills the map v, whose keys are strings, from mapping n.
func (d *decoder) mapping(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.mismatch(path, n, "a mapping")
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, e := range d.entries(path, n) {
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(field(path, printable(e.key.Value)), e.value, elem)
		m.SetMapIndex(reflect.ValueOf(e.key.Value).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}

// entry is one key/value pair of a mapping.
type entry struct{ key, value *yaml.Node }

// entries lists the pairs of mapping n with merge keys ("<<: *anchor")
// expanded. As the YAML merge key type specifies, keys written in n win
// over merged ones and an earlier merged mapping wins over a later one.
// A key written twice in n is a problem.
func (d *decoder) entries(path string, n *yaml.Node) []entry {
	var own, merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
			merged = append(merged, d.merge(path, v)...)
		case k.Kind != yaml.ScalarNode:
			d.nodef(k, path, "keys must be strings")
		default:
			own = append(own, entry{k, v})
		}
	}
	first := map[string]*yaml.Node{}
	var out []entry
	for _, e := range own {
		if f, dup := first[e.key.Value]; dup {
			d.nodef(e.key, field(path, printable(e.key.Value)), "duplicate key (first at line %d)", f.Line)
			continue
		}
		first[e.key.Value] = e.key
		out = append(out, e)
	}
	for _, e := range merged {
		if _, shadowed := first[e.key.Value]; !shadowed {
			first[e.key.Value] = e.key
			out = append(out, e)
		}
	}
	return out
}

// merge returns the pairs that the value n of a merge key brings in: a
// mapping, or a list of mappings.
func (d *decoder) merge(path string, n *yaml.Node) []entry {
	n, ok := d.enter(field(path, "<<"), n)
	if !ok {
		d.broken[path] = true
		return nil
	}
	defer d.leave(n)
	switch n.Kind {
	case yaml.MappingNode:
		return d.entries(path, n)
	case yaml.SequenceNode:
		var out []entry
		for _, item := range n.Content {
			item, ok := d.enter(field(path, "<<"), item)
			if !ok {
				d.broken[path] = true
				continue
			}
			if item.Kind == yaml.MappingNode {
				out = append(out, d.entries(path, item)...)
			} else {
				d.badMerge(path, item)
			}
			d.leave(item)
		}
		return out
	}
	d.badMerge(path, n)
	return nil
}

// badMerge records that n cannot be merged into the mapping at path,
// whose contents are then unknown.
func (d *decoder) badMerge(path string, n *yaml.Node) {
	d.nodef(n, field(path, "<<"), "want a mapping or a list of mappings to merge, got %s", describe(n))
	d.broken[path] = true
}

// printable returns key as is when it prints plainly, quoted otherwise,
// so that a field path stays on one line and unambiguous.
func printable(key string) string {
	for _, r := range key {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '"' {
			return strconv.Quote(key)
		}
	}
	if key == "" {
		return `""`
	}
	return key
}

// fieldIndex returns the index of the field of struct type t whose yaml
// tag names key, or -1.
func fieldIndex(t reflect.Type, key string) int {
	for i := range t.NumField() {
		if yamlName(t.Field(i)) == key {
			return i
		}
	}
	return -1
}

// fieldNames lists the keys struct type t accepts, in declaration order.
func fieldNames(t reflect.Type) string {
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return "" // not written in the file
	}
	return name
}

// countNodes counts the nodes written in the document under n, not
// following aliases.
func countNodes(n *yaml.Node) int {
	count := 1
	for _, c := range n.Content {
		count += countNodes(c)
	}
	return count
}
