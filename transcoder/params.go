package transcoder

import (
	"fmt"
	"strings"
)

// inlineSegments is how many path segments Params records without allocating.
const inlineSegments = 16

// Params are the segments of a path matched by a Router. The matched binding's path variables take
// their values from them (Binding.PathValues). The zero value is ready to use; a Params is reused by
// each Lookup.
type Params struct {
	path string
	raw  bool // path is percent-encoded: segments are decoded when read
	n    int  // number of segments
	end  int  // end of the last segment in path: before ":verb" when the verb is split off

	starts [inlineSegments]int // offset of each segment in path
	more   []int               // offsets of segments past inlineSegments
}

// split records the segments of path, which must start with '/'. "/" has no segment; "/a/" has two,
// the second empty.
func (p *Params) split(path string, raw bool) bool {
	p.path, p.raw, p.n, p.end, p.more = path, raw, 0, len(path), p.more[:0]
	if path == "" || path[0] != '/' {
		return false
	}
	if len(path) == 1 {
		return true
	}
	for i := 0; i < len(path); i++ {
		if path[i] == '/' {
			p.push(i + 1)
		}
	}
	return true
}

func (p *Params) push(off int) {
	if p.n < inlineSegments {
		p.starts[p.n] = off
	} else {
		p.more = append(p.more, off)
	}
	p.n++
}

func (p *Params) start(i int) int {
	if i < inlineSegments {
		return p.starts[i]
	}
	return p.more[i-inlineSegments]
}

// segEnd is the offset just past segment i.
func (p *Params) segEnd(i int) int {
	if i == p.n-1 {
		return p.end
	}
	return p.start(i+1) - 1
}

// segment returns segment i as it appears in the path.
func (p *Params) segment(i int) string { return p.path[p.start(i):p.segEnd(i)] }

// filled reports whether segments i... of the path, at least one, are all non-empty, as a "**"
// takes them: an empty segment binds no variable, so "/v1/files/a/" and "/v1/files/a//b" do not
// name a file as "/v1/files/a" and "/v1/files/a/b" do.
func (p *Params) filled(i int) bool {
	rest := p.path[p.start(i):p.end]
	return rest != "" && rest[0] != '/' && rest[len(rest)-1] != '/' && !strings.Contains(rest, "//")
}

// verb splits a custom verb off the last segment: it returns the verb (decoded) and where the last
// segment then ends, or -1 when the last segment has no ':' with text on both sides.
func (p *Params) verb() (string, int) {
	if p.n == 0 {
		return "", -1
	}
	start := p.start(p.n - 1)
	last := p.path[start:]
	i := strings.LastIndexByte(last, ':')
	if i <= 0 || i == len(last)-1 {
		return "", -1
	}
	verb := last[i+1:]
	if p.raw && strings.IndexByte(verb, '%') >= 0 {
		v, err := unescape(verb, false)
		if err != nil {
			return "", -1
		}
		verb = v
	}
	return verb, start + i
}

// literal returns a segment as it compares with template literals: decoded.
func (p *Params) literal(seg string) string {
	if !p.raw || strings.IndexByte(seg, '%') < 0 {
		return seg
	}
	s, err := unescape(seg, false)
	if err != nil {
		return "\x00" // matches no literal; a variable reading it reports the bad escape
	}
	return s
}

// value returns the text a path variable binds. A single-segment variable is fully decoded, %2F
// included. A multi-segment variable ("{name=projects/*}", "{path=**}") keeps '/' as separators and
// is decoded except for "%2F" and "%2f", which stay as they came, as the google.api.http spec has it
// ("The server side does the reverse decoding, except "%2F" and "%2f" are left unchanged"): an
// encoded slash is data inside a segment, told apart from the separators.
func (p *Params) value(v *pathVar) (string, error) {
	if v.start >= p.n {
		return "", nil // "**" matching no segment
	}
	from := p.start(v.start)
	to := p.end
	if !v.tail {
		to = p.segEnd(v.end - 1)
	}
	s := p.path[from:to]
	if !p.raw {
		// p.path is url.URL.Path, decoded already. net/http leaves RawPath empty only when encoding
		// Path again gives the original, so the original held no "%2F": there is nothing to keep.
		return s, nil
	}
	return unescape(s, v.multi)
}

// unescape decodes percent escapes. With keepSlash, escapes of '/' ("%2F", "%2f") stay as they are.
// '+' is not a space in a path.
func unescape(s string, keepSlash bool) (string, error) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				bad := s[i:]
				if len(bad) > 3 {
					bad = bad[:3]
				}
				return "", fmt.Errorf("invalid percent escape %q", bad)
			}
			n++
			i += 2
		}
	}
	if n == 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s) - n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if d := unhex(s[i+1])<<4 | unhex(s[i+2]); d != '/' || !keepSlash {
			b.WriteByte(d)
		} else {
			b.WriteString(s[i : i+3])
		}
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// Value returns the text the i-th path variable of b (in template order, see Binding.PathVariables)
// binds in the path p matched.
func (p *Params) Value(b *Binding, i int) (string, error) { return p.value(&b.vars[i]) }
