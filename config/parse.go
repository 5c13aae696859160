package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Load reads the configuration file at path and parses it. A file that
// cannot be read is reported as the error from os.ReadFile, wrapped; a
// file with problems as *Error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a configuration file's contents. filename
// names the file in problems, and relative paths in the file are resolved
// against its directory. It returns every problem found as *Error;
// otherwise a Config with defaults filled.
//
// Validation touches the filesystem only to check the files the
// configuration refers to: that they exist, and that the TLS certificates,
// keys and CA roots, JWT key sets and secrets it names load. It reads the
// environment only to check that the variables the configuration names
// (password_env) are set, as the gateway needs them at start.
func Parse(filename string, data []byte) (*Config, error) {
	src := newSource(filename)
	if !src.checkText(data) {
		return nil, src.err()
	}
	root := src.document(data)
	if root == nil {
		return nil, src.err()
	}
	c := new(Config)
	src.record("", root)
	dec := newDecoder(src, root)
	dec.decode("", root, reflect.ValueOf(c).Elem())
	if dec.exhausted() {
		return nil, src.err() // what was left undecoded would only add noise
	}
	c.resolvePaths(filepath.Dir(filename))
	for i := range c.Services {
		svc := &c.Services[i]
		path := index("services", i)
		svc.Where = src.where(path)
		for j := range svc.Services {
			svc.ServicesWhere = append(svc.ServicesWhere, src.where(index(field(path, "services"), j)))
		}
	}
	for i := range c.Routes {
		c.Routes[i].Where = src.where(index("routes", i))
	}
	for i := range c.Policies.Rules {
		r := &c.Policies.Rules[i]
		key := "prefix"
		switch {
		case r.Match.Service != "":
			key = "service"
		case r.Match.Method != "":
			key = "method"
		}
		r.Where = src.where(field(index("policies.rules", i), "match."+key))
	}
	validate(src, c)
	if err := src.err(); err != nil {
		return nil, err
	}
	c.complete()
	return c, nil
}

// HasDocument reports whether data holds a YAML document with something in it: false when it is
// empty, holds only whitespace, comments and document markers ("---" and a comment, as a rendered
// template's first lines), or only null documents ("null", "~"). Parse reads such data as an empty
// configuration, every setting at its default; an explicit empty mapping, "{}", is a document. A
// file that a writer truncates before writing it again holds no document for a moment, which is why
// a reload refuses one.
func HasDocument(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		switch {
		case errors.Is(err, io.EOF):
			return false
		case err != nil:
			return true // a syntax error is something written, which Parse reports
		case len(doc.Content) > 0 && doc.Content[0].ShortTag() != "!!null":
			return true
		}
	}
}

// document parses data as one YAML document and returns its root node: an
// empty mapping when data holds no document, nil (with a problem
// recorded) when data is not valid YAML or holds a second document.
// Empty documents after the first, such as a trailing "---", are fine.
func (s *source) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root *yaml.Node
	for first := true; ; first = false {
		var doc yaml.Node
		err := dec.Decode(&doc)
		switch {
		case errors.Is(err, io.EOF):
			if root == nil {
				root = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}
			}
			return root
		case err != nil:
			s.syntax(err, data)
			return nil
		case len(doc.Content) == 0 || doc.Content[0].ShortTag() == "!!null":
			// empty
		case first:
			root = doc.Content[0]
		default:
			s.nodef(&doc, "", "want one YAML document, found another")
			return nil
		}
	}
}

// checkText reports the first character that YAML does not allow in a
// document, with its position, which yaml.v3 would report without one.
// It checks UTF-8 only; yaml.v3 handles UTF-16 itself.
func (s *source) checkText(data []byte) bool {
	if bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")) {
		return true
	}
	line, col := 1, 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		switch {
		case r == utf8.RuneError && size <= 1:
			s.problemAt(position{line, col}, "", "invalid YAML: invalid UTF-8 (byte %#x)", data[0])
			return false
		case !yamlChar(r):
			s.problemAt(position{line, col}, "", "invalid YAML: character %U is not allowed", r)
			return false
		case r == '\n':
			line, col = line+1, 1
		default:
			col++
		}
		data = data[size:]
	}
	return true
}

// yamlChar reports whether YAML 1.2 allows r in a document.
func yamlChar(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r < 0x20, r == 0x7f:
		return false
	case r < 0x7f:
		return true
	}
	return 0xa0 <= r && r <= 0xd7ff || 0xe000 <= r && r <= 0xfffd || 0x10000 <= r && r <= 0x10ffff
}
