package config

import (
	"reflect"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// integer returns the integer scalar n.
func (d *decoder) integer(path string, n *yaml.Node) (int64, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.mismatch(path, n, "an integer")
		return 0, false
	}
	var i int64
	if err := n.Decode(&i); err != nil {
		d.nodef(n, path, "%s is out of range", n.Value)
		return 0, false
	}
	return i, true
}

// duration fills v from a Go duration string such as "250ms".
func (d *decoder) duration(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.mismatch(path, n, `a duration such as "250ms" or "2s"`)
		return
	}
	t, err := time.ParseDuration(n.Value)
	if err != nil {
		d.mismatch(path, n, `a duration such as "250ms" or "2s"`)
		return
	}
	v.SetInt(int64(t))
}

// byteSize fills v from an integer number of bytes or a string such as
// "4MiB".
func (d *decoder) byteSize(path string, n *yaml.Node, v reflect.Value) {
	const want = `a size in bytes such as 4194304, "4MiB" or "10MB"`
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		if i, ok := d.integer(path, n); ok {
			v.SetInt(i)
		}
		return
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.mismatch(path, n, want)
		return
	}
	s, err := parseByteSize(n.Value)
	if err != nil {
		d.mismatch(path, n, want)
		return
	}
	v.SetInt(int64(s))
}

// mismatch records that n is not the kind of value the field wants.
func (d *decoder) mismatch(path string, n *yaml.Node, want string) {
	d.broken[path] = true
	d.nodef(n, path, "want %s, got %s", want, describe(n))
}

// describe names the value n for a problem message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	const max = 40
	if len(n.Value) > max {
		return strconv.Quote(n.Value[:max]) + "..."
	}
	return strconv.Quote(n.Value)
}
