package jsonenc

import (
	"errors"
	"math/bits"
	"unicode/utf8"
)

// ErrInvalidUTF8 is AppendProtoString's error for a string that is not valid UTF-8.
var ErrInvalidUTF8 = errors.New("jsonenc: invalid UTF-8")

// AppendString appends s to dst as a JSON string, byte for byte as encoding/json writes it with HTML
// escaping off (json.Encoder.SetEscapeHTML(false)); log/slog differs only in writing \b and \f as
// \u0008 and \u000c:
//   - '"' and '\\' are escaped with a backslash;
//   - control characters below U+0020 are written \b, \f, \n, \r, \t or \u00xx (lower-case hex);
//   - U+2028 and U+2029 are written \u2028 and \u2029: JSON allows them raw, but JavaScript before
//     ES2019 and some log tools take them for line ends;
//   - each byte that is not part of valid UTF-8 is written \ufffd, so the output is always valid
//     JSON whatever s holds;
//   - everything else, '<', '>', '&' and U+007F included, is copied as it is.
func AppendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is still to copy: runs are copied whole, when an escape ends them
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case plain(c):
			if i++; i < len(s) && plain(s[i]) {
				i = skipPlain(s, i+1)
			}
			continue
		case c < utf8.RuneSelf:
			if start < i {
				dst = append(dst, s[start:i]...)
			}
			dst = appendEscapedASCII(dst, c)
			i++
			start = i
			continue
		}
		n := runeLen(s, i)
		switch {
		case n == 0:
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
			n = 1
		case n == 3 && c == 0xe2 && s[i+1] == 0x80 && s[i+2]&^1 == 0xa8: // U+2028, U+2029
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[s[i+2]&0xf])
		default:
			i += n
			continue
		}
		i += n
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendProtoString appends s to dst as a JSON string, byte for byte as protojson writes a string
// field: '"', '\\' and control characters escaped as AppendString escapes them, everything else
// (U+2028 and U+2029 included) copied as it is. protojson fails a message holding invalid UTF-8, and
// so does this: it returns dst unchanged and ErrInvalidUTF8.
func AppendProtoString[S ~string | ~[]byte](dst []byte, s S) ([]byte, error) {
	mark := len(dst)
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case plain(c):
			if i++; i < len(s) && plain(s[i]) {
				i = skipPlain(s, i+1)
			}
			continue
		case c < utf8.RuneSelf:
			if start < i {
				dst = append(dst, s[start:i]...)
			}
			dst = appendEscapedASCII(dst, c)
			i++
			start = i
			continue
		}
		n := runeLen(s, i)
		if n == 0 {
			return dst[:mark], ErrInvalidUTF8
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}

const hexDigits = "0123456789abcdef"

// appendEscapedASCII appends the escape of c: '"', '\\' or a control character.
func appendEscapedASCII(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// runeLen returns the length of the UTF-8 encoding of a rune at s[i], a byte of 0x80 or above, or 0
// when s holds no valid encoding there: a stray continuation byte, an overlong form, a surrogate,
// a value above U+10FFFF, or a sequence cut short. These are the sequences utf8.DecodeRune refuses
// (RFC 3629's table); decoding the rune itself is not needed.
func runeLen[S ~string | ~[]byte](s S, i int) int {
	c := s[i]
	lo, hi := byte(0x80), byte(0xbf) // the range of the second byte
	switch {
	case c < 0xc2 || c > 0xf4:
		return 0
	case c < 0xe0:
		if i+1 < len(s) && s[i+1]&0xc0 == 0x80 {
			return 2
		}
		return 0
	case c == 0xe0:
		lo = 0xa0 // overlong below
	case c == 0xed:
		hi = 0x9f // surrogates above
	case c == 0xf0:
		lo = 0x90 // overlong below
	case c == 0xf4:
		hi = 0x8f // beyond U+10FFFF above
	}
	if c < 0xf0 {
		if i+2 < len(s) && lo <= s[i+1] && s[i+1] <= hi && s[i+2]&0xc0 == 0x80 {
			return 3
		}
		return 0
	}
	if i+3 < len(s) && lo <= s[i+1] && s[i+1] <= hi && s[i+2]&0xc0 == 0x80 && s[i+3]&0xc0 == 0x80 {
		return 4
	}
	return 0
}

// Bytes of a little-endian word, for testing eight bytes at once (SWAR).
const (
	lowBits  = 0x0101010101010101 // 0x01 in every byte
	highBits = 0x8080808080808080 // 0x80 in every byte
)

// plain reports whether c is printable ASCII that JSON strings hold as it is.
func plain(c byte) bool { return c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' }

// skipPlain returns the index of the first byte at or after i that is not plain, or len(s). It tests
// eight bytes a step: most strings are mostly plain ASCII, in runs longer than eight bytes.
func skipPlain[S ~string | ~[]byte](s S, i int) int {
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		if m := specialBytes(x); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(s) && plain(s[i]); i++ {
	}
	return i
}

// specialBytes marks, with its high bit, each byte of x that is not plain: below 0x20, '"', '\\',
// or 0x80 and above. A byte b below n has b-n wrap around and set the high bit that b lacks (for
// n <= 0x80); b equals v when b^v is below 1. The subtractions may borrow from the byte above a
// marked byte and mark it wrongly, never a byte below, so the lowest mark, all callers use, is exact.
func specialBytes(x uint64) uint64 {
	below := x - 0x20*lowBits
	quote := (x ^ '"'*lowBits) - lowBits
	backslash := (x ^ '\\'*lowBits) - lowBits
	return ((below|quote|backslash)&^x | x) & highBits
}
