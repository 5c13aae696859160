package sanitize

import (
	"fmt"
	"unicode/utf8"
)

// JSONShape checks the shape of a JSON text as it streams by, in chunks of any size, without
// building it: nesting depth, the length of each array, the length of each string (and object key)
// in bytes as written, and that strings are valid UTF-8 — raw bytes and \u escapes alike (a lone
// surrogate escape is refused, as protojson refuses it). It accepts a sequence of JSON values
// (newline-delimited JSON streams are checked as they come) and does not otherwise validate the
// grammar: a malformed text is the front's to reject, with the front's own message. The zero value
// is not usable; make one with NewJSONShape.
type JSONShape struct {
	maxDepth, maxArray int
	maxString          int64

	off   int64 // bytes consumed before the current chunk
	stack []frame

	inString bool
	strLen   int64
	escape   int8 // 0 none; 1 after '\'; 2..5 reading \u hex digits
	hex      rune // the \u code unit being read
	high     rune // a high surrogate waiting for its low half, 0 when none
	pending  [utf8.UTFMax]byte
	npending int // bytes of an incomplete multi-byte UTF-8 sequence in pending
}

type frame struct {
	array    bool
	needElem bool // an array frame waiting for its next element
	count    int
}

// NewJSONShape returns a checker with the given limits; a limit <= 0 is not checked.
func NewJSONShape(maxDepth, maxArrayLength int, maxStringBytes int64) *JSONShape {
	return &JSONShape{maxDepth: maxDepth, maxArray: maxArrayLength, maxString: maxStringBytes}
}

// Reset makes s ready for a new text.
func (s *JSONShape) Reset() {
	*s = JSONShape{maxDepth: s.maxDepth, maxArray: s.maxArray, maxString: s.maxString, stack: s.stack[:0]}
}

// ShapeError is a JSON text over one of the limits; Offset is the byte where it was seen.
type ShapeError struct {
	Offset int64
	Msg    string
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("%s (at byte %d of the body)", e.Msg, e.Offset)
}

// Write checks the next chunk of the text. It returns a *ShapeError at the first violation; the
// checker is then spent.
func (s *JSONShape) Write(p []byte) (int, error) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if s.inString {
			if err := s.stringByte(c, i); err != nil {
				return i, err
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case ']', '}':
			if n := len(s.stack); n > 0 {
				s.stack = s.stack[:n-1]
			}
			continue
		case ',':
			if n := len(s.stack); n > 0 && s.stack[n-1].array {
				s.stack[n-1].needElem = true
			}
			continue
		case ':':
			continue
		}
		// c starts a value, or continues a number or literal.
		if n := len(s.stack); n > 0 && s.stack[n-1].array && s.stack[n-1].needElem {
			f := &s.stack[n-1]
			f.needElem = false
			if f.count++; s.maxArray > 0 && f.count > s.maxArray {
				return i, s.fail(i, fmt.Sprintf("JSON array longer than the limit of %d elements", s.maxArray))
			}
		}
		switch c {
		case '"':
			s.inString, s.strLen = true, 0
		case '[', '{':
			if s.maxDepth > 0 && len(s.stack) >= s.maxDepth {
				return i, s.fail(i, fmt.Sprintf("JSON nested deeper than the limit of %d levels", s.maxDepth))
			}
			s.stack = append(s.stack, frame{array: c == '[', needElem: c == '['})
		}
	}
	s.off += int64(len(p))
	return len(p), nil
}

// Close reports a text that ends inside a string with an incomplete UTF-8 sequence; the rest of an
// unfinished text is the front's to reject.
func (s *JSONShape) Close() error {
	if s.npending > 0 {
		return s.fail(0, "JSON string is not valid UTF-8")
	}
	return nil
}

func (s *JSONShape) fail(i int, msg string) error {
	return &ShapeError{Offset: s.off + int64(i), Msg: msg}
}

// stringByte consumes byte c of a string; i is its index in the current chunk.
func (s *JSONShape) stringByte(c byte, i int) error {
	if c != '"' || s.escape == 1 {
		if s.strLen++; s.maxString > 0 && s.strLen > s.maxString {
			return s.fail(i, fmt.Sprintf("JSON string longer than the limit of %d bytes", s.maxString))
		}
	}
	if s.npending > 0 {
		return s.continuation(c, i)
	}
	switch {
	case s.escape == 1:
		s.escape = 0
		if c == 'u' {
			s.escape, s.hex = 2, 0
		} else if s.high != 0 {
			return s.fail(i, "JSON string has a lone surrogate escape")
		}
		return nil
	case s.escape >= 2:
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return nil // malformed escape: the front reports it
		}
		s.hex = s.hex<<4 | rune(v)
		if s.escape++; s.escape < 6 {
			return nil
		}
		s.escape = 0
		return s.unit(s.hex, i)
	}
	if s.high != 0 && c != '\\' {
		return s.fail(i, "JSON string has a lone surrogate escape")
	}
	switch {
	case c == '"':
		s.inString = false
	case c == '\\':
		s.escape = 1
	case c < utf8.RuneSelf:
	default:
		s.pending[0], s.npending = c, 1
		if !utf8.RuneStart(c) || c >= 0xF8 || c == 0xC0 || c == 0xC1 {
			return s.fail(i, "JSON string is not valid UTF-8")
		}
	}
	return nil
}

// continuation adds byte c to a pending multi-byte sequence and checks it when complete.
func (s *JSONShape) continuation(c byte, i int) error {
	s.pending[s.npending] = c
	s.npending++
	if c&0xC0 != 0x80 {
		return s.fail(i, "JSON string is not valid UTF-8")
	}
	if !utf8.FullRune(s.pending[:s.npending]) {
		return nil
	}
	r, size := utf8.DecodeRune(s.pending[:s.npending])
	s.npending = 0
	if r == utf8.RuneError && size <= 1 {
		return s.fail(i, "JSON string is not valid UTF-8")
	}
	return nil
}

// unit checks the UTF-16 code unit u of a \u escape.
func (s *JSONShape) unit(u rune, i int) error {
	switch {
	case 0xD800 <= u && u < 0xDC00:
		if s.high != 0 {
			return s.fail(i, "JSON string has a lone surrogate escape")
		}
		s.high = u
	case 0xDC00 <= u && u < 0xE000:
		if s.high == 0 {
			return s.fail(i, "JSON string has a lone surrogate escape")
		}
		s.high = 0
	default:
		if s.high != 0 {
			return s.fail(i, "JSON string has a lone surrogate escape")
		}
	}
	return nil
}
