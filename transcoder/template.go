package transcoder

import (
	"fmt"
	"slices"
	"strings"
)

// SegmentKind is the kind of one path segment of a template.
type SegmentKind uint8

// The segment kinds.
const (
	Literal        SegmentKind = iota // a fixed segment, e.g. "users"
	Wildcard                          // "*": exactly one segment
	DoubleWildcard                    // "**": zero or more segments; only at the end
)

// Segment is one segment of a path template.
type Segment struct {
	Kind  SegmentKind
	Value string // the literal, for Literal segments
}

// Variable binds the segments [Start, End) of a path to a request field.
type Variable struct {
	FieldPath []string // e.g. ["user", "id"]
	Start     int
	End       int // End == len(Segments) and a DoubleWildcard last: the rest of the path
}

// Template is a parsed google.api.http path template:
//
//	Template = "/" Segments [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb     = ":" LITERAL ;
//
// A variable without a pattern matches one segment ("*").
type Template struct {
	Segments  []Segment
	Variables []Variable
	Verb      string
	raw       string
}

// Matches reports whether path (as it is written, escaped) matches the template: its segments and
// verb, a "*" taking one non-empty segment and a "**" the rest, none of it empty. The REST router
// matches many templates at once; this is for one.
func (t *Template) Matches(path string) bool {
	path, ok := strings.CutPrefix(path, "/")
	if !ok {
		return false
	}
	if t.Verb != "" {
		var verb string
		if i := strings.LastIndexByte(path, ':'); i > strings.LastIndexByte(path, '/') {
			path, verb = path[:i], path[i+1:]
		}
		if verb != t.Verb {
			return false
		}
	}
	segs := strings.Split(path, "/")
	for i, s := range t.Segments {
		switch {
		case s.Kind == DoubleWildcard:
			return !slices.Contains(segs[i:], "")
		case i >= len(segs) || segs[i] == "":
			return false
		case s.Kind == Literal && segs[i] != s.Value:
			return false
		}
	}
	return len(segs) == len(t.Segments)
}

// String returns the template as written.
func (t *Template) String() string { return t.raw }

// Key is the template in canonical form, variables replaced by their patterns: two templates with the
// same Key match exactly the same paths ("/v1/users/{id}" and "/v1/users/{name}" are both
// "/v1/users/*").
func (t *Template) Key() string {
	var b strings.Builder
	for _, s := range t.Segments {
		b.WriteByte('/')
		switch s.Kind {
		case Wildcard:
			b.WriteByte('*')
		case DoubleWildcard:
			b.WriteString("**")
		default:
			b.WriteString(s.Value)
		}
	}
	if len(t.Segments) == 0 {
		b.WriteByte('/')
	}
	if t.Verb != "" {
		b.WriteByte(':')
		b.WriteString(t.Verb)
	}
	return b.String()
}

// ParseTemplate parses a path template. Errors name the position of the problem.
func ParseTemplate(s string) (*Template, error) {
	p := templateParser{s: s, t: &Template{raw: s}}
	if err := p.parse(); err != nil {
		return nil, fmt.Errorf("path template %q: %w", s, err)
	}
	return p.t, nil
}

type templateParser struct {
	s   string
	pos int
	t   *Template
	in  bool // inside a variable
}

func (p *templateParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *templateParser) parse() error {
	if !strings.HasPrefix(p.s, "/") {
		return p.errorf("must start with '/'")
	}
	p.pos = 1
	// The verb is the text after the last ':' that is outside braces, in the last segment.
	body := p.s
	if i := strings.LastIndexByte(p.s, ':'); i > strings.LastIndexByte(p.s, '/') && i > strings.LastIndexByte(p.s, '}') {
		body, p.t.Verb = p.s[:i], p.s[i+1:]
		if p.t.Verb == "" || !isLiteral(p.t.Verb) {
			p.pos = i + 1
			return p.errorf("invalid verb %q", p.t.Verb)
		}
	}
	p.s = body
	if p.s == "/" {
		return nil // the root path: no segments
	}
	if err := p.segments(); err != nil {
		return err
	}
	if p.pos != len(p.s) {
		return p.errorf("unexpected %q", p.s[p.pos:])
	}
	for i, seg := range p.t.Segments {
		if seg.Kind == DoubleWildcard && i != len(p.t.Segments)-1 {
			return fmt.Errorf("'**' must be the last segment")
		}
	}
	return nil
}

func (p *templateParser) segments() error {
	for {
		if err := p.segment(); err != nil {
			return err
		}
		if p.pos >= len(p.s) || p.s[p.pos] != '/' {
			return nil
		}
		p.pos++
	}
}

func (p *templateParser) segment() error {
	switch {
	case strings.HasPrefix(p.s[p.pos:], "**"):
		p.pos += 2
		p.t.Segments = append(p.t.Segments, Segment{Kind: DoubleWildcard})
	case strings.HasPrefix(p.s[p.pos:], "*"):
		p.pos++
		p.t.Segments = append(p.t.Segments, Segment{Kind: Wildcard})
	case strings.HasPrefix(p.s[p.pos:], "{"):
		return p.variable()
	default:
		start := p.pos
		for p.pos < len(p.s) && !strings.ContainsRune("/{}*=", rune(p.s[p.pos])) {
			p.pos++
		}
		lit := p.s[start:p.pos]
		if lit == "" {
			return p.errorf("empty segment")
		}
		if !isLiteral(lit) {
			return p.errorf("invalid literal %q", lit)
		}
		p.t.Segments = append(p.t.Segments, Segment{Kind: Literal, Value: lit})
	}
	return nil
}

func (p *templateParser) variable() error {
	if p.in {
		return p.errorf("variables cannot nest")
	}
	p.pos++ // '{'
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] != '=' && p.s[p.pos] != '}' {
		p.pos++
	}
	path := p.s[start:p.pos]
	fields := strings.Split(path, ".")
	for _, f := range fields {
		if !isIdent(f) {
			p.pos = start
			return p.errorf("invalid field path %q", path)
		}
	}
	v := Variable{FieldPath: fields, Start: len(p.t.Segments)}
	if p.pos < len(p.s) && p.s[p.pos] == '=' {
		p.pos++
		p.in = true
		if err := p.segments(); err != nil {
			return err
		}
		p.in = false
	} else {
		p.t.Segments = append(p.t.Segments, Segment{Kind: Wildcard})
	}
	if p.pos >= len(p.s) || p.s[p.pos] != '}' {
		return p.errorf("unclosed variable {%s", path)
	}
	p.pos++
	v.End = len(p.t.Segments)
	for _, other := range p.t.Variables {
		if strings.Join(other.FieldPath, ".") == path {
			return p.errorf("field %s is bound twice", path)
		}
	}
	p.t.Variables = append(p.t.Variables, v)
	return nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// isLiteral reports whether s is made of URL path characters a template may hold literally:
// unreserved characters, sub-delimiters other than '=' and '*', '@', ':' and percent escapes.
func isLiteral(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~!$&'()+,;@:", c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
