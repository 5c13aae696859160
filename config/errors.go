package config

import (
	"strconv"
	"strings"
)

// Error lists every problem found in a configuration file. Parse and Load
// return it as *Error.
type Error struct {
	// Problems are ordered by position in the file.
	Problems []Problem
}

// Error returns the problems one per line.
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Problem is one thing wrong with a configuration file.
type Problem struct {
	// File is the name the file was parsed under.
	File string
	// Line and Column locate the offending YAML node, counting from 1;
	// 0 when unknown (a YAML syntax error has a line but no column).
	Line, Column int
	// Field is the path of the offending field, such as
	// "routes[1].clusters[0].name"; empty for problems with the document
	// itself.
	Field string
	// Message says what is wrong.
	Message string
}

// String formats the problem as "file:line:col: field: message", leaving
// out the parts that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(p.Line))
		if p.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Column))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}
