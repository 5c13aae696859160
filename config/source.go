package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// source remembers where each field of a configuration file was written
// and collects the problems found in it, so that checks made after
// decoding can still point at the offending node.
type source struct {
	file     string
	at       map[string]position // field path -> position of its value
	problems []Problem
	blamed   map[string]bool // field paths that already have a problem
	broken   map[string]bool // field paths whose value could not be decoded
}

type position struct{ line, column int }

func newSource(file string) *source {
	return &source{
		file:   file,
		at:     map[string]position{},
		blamed: map[string]bool{},
		broken: map[string]bool{},
	}
}

// record notes that the field at path is written at n.
func (s *source) record(path string, n *yaml.Node) {
	s.at[path] = position{n.Line, n.Column}
}

// has reports whether the file writes the field at path, with a value
// other than null.
func (s *source) has(path string) bool {
	_, ok := s.at[path]
	return ok
}

// line returns the line the field at path is written on, 0 if it is not.
func (s *source) line(path string) int { return s.at[path].line }

// lookup returns the position of the field at path or, when the file
// does not write it, of its nearest written ancestor.
func (s *source) lookup(path string) position {
	for {
		if p, ok := s.at[path]; ok || path == "" {
			return p
		}
		path = parent(path)
	}
}

// where locates the field at path for problems found after parsing, as a problem with it would
// start: "file:line:col: path".
func (s *source) where(path string) string {
	pos := s.lookup(path)
	return strings.TrimSuffix(Problem{File: s.file, Line: pos.line, Column: pos.column, Field: path}.String(), ": ")
}

// blamedWithin reports whether a problem was recorded with the field at path or one inside it.
func (s *source) blamedWithin(path string) bool {
	for p := range s.blamed {
		if p == path || strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") {
			return true
		}
	}
	return false
}

// problemAt records a problem with the field at path, written at pos.
// Only the first problem with a field is kept: later ones are usually
// consequences of it.
func (s *source) problemAt(pos position, path, format string, args ...any) {
	if path != "" {
		if s.blamed[path] {
			return
		}
		s.blamed[path] = true
	}
	s.problems = append(s.problems, Problem{
		File:    s.file,
		Line:    pos.line,
		Column:  pos.column,
		Field:   path,
		Message: fmt.Sprintf(format, args...),
	})
}

// nodef records a problem located at node n.
func (s *source) nodef(n *yaml.Node, path, format string, args ...any) {
	s.problemAt(position{n.Line, n.Column}, path, format, args...)
}

// fieldf records a problem with the field at path, located where the
// field or its nearest ancestor is written. It records nothing when the
// field or an ancestor could not be decoded: what is left of it is a
// consequence of a problem already reported.
func (s *source) fieldf(path, format string, args ...any) {
	for p := path; ; p = parent(p) {
		if s.broken[p] {
			return
		}
		if p == "" {
			break
		}
	}
	s.problemAt(s.lookup(path), path, format, args...)
}

// err returns the problems found, ordered by position, as *Error; nil if
// there are none.
func (s *source) err() error {
	if len(s.problems) == 0 {
		return nil
	}
	problems := slices.Clone(s.problems)
	slices.SortStableFunc(problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return &Error{Problems: problems}
}

// field returns the path of the field key of the mapping at path.
func field(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// index returns the path of item i of the list at path.
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// parent returns the path of the mapping or list that holds path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}
