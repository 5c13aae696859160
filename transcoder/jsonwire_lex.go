package transcoder

import (
	"bytes"
	"encoding/base64"
	"math"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON-to-wire decoder's reading of JSON strings and numbers, as protojson reads them.

// str reads the JSON string at pos and returns its value: a slice of the input when it has no
// escapes, else of scratch (valid until the next string; escaped says which). It refuses what
// protojson refuses: control characters, invalid UTF-8, bad escapes and lone surrogates.
func (d *jsonDecoder) str() ([]byte, bool) {
	if d.pos >= len(d.in) || d.in[d.pos] != '"' {
		return nil, false
	}
	start := d.pos + 1
	for i := start; i < len(d.in); i++ {
		switch c := d.in[i]; {
		case c == '"':
			d.pos, d.escaped = i+1, false
			return d.in[start:i], true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return d.strSlow(start, i)
		}
	}
	return nil, false
}

func (d *jsonDecoder) strSlow(start, i int) ([]byte, bool) {
	in := d.in
	out := append(d.scratch[:0], in[start:i]...)
	for i < len(in) {
		c := in[i]
		switch {
		case c == '"':
			d.pos, d.escaped, d.scratch = i+1, true, out
			return out, true
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && n == 1 {
				return nil, false
			}
			out = append(out, in[i:i+n]...)
			i += n
		case c != '\\':
			out = append(out, c)
			i++
		default:
			if i+1 >= len(in) {
				return nil, false
			}
			switch e := in[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(in[i+2:])
				if !ok {
					return nil, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if len(in)-i < 6 || in[i] != '\\' || in[i+1] != 'u' {
						return nil, false
					}
					lo, ok := hex4(in[i+2:])
					if !ok {
						return nil, false
					}
					if r = utf16.DecodeRune(r, lo); r == unicode.ReplacementChar {
						return nil, false
					}
					i += 6
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				return nil, false
			}
			i += 2
		}
	}
	return nil, false
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// numberLen is the length of the JSON number at the start of b (0 if there is none); integer
// reports one without fraction or exponent.
func numberLen(b []byte) (n int, integer bool) {
	digits := func() int {
		k := 0
		for n+k < len(b) && '0' <= b[n+k] && b[n+k] <= '9' {
			k++
		}
		return k
	}
	if n < len(b) && b[n] == '-' {
		n++
	}
	switch {
	case n < len(b) && b[n] == '0':
		n++
	case n < len(b) && '1' <= b[n] && b[n] <= '9':
		n += digits()
	default:
		return 0, false
	}
	integer = true
	if n < len(b) && b[n] == '.' {
		n++
		k := digits()
		if k == 0 {
			return 0, false
		}
		n += k
		integer = false
	}
	if n < len(b) && (b[n] == 'e' || b[n] == 'E') {
		n++
		if n < len(b) && (b[n] == '+' || b[n] == '-') {
			n++
		}
		k := digits()
		if k == 0 {
			return 0, false
		}
		n += k
		integer = false
	}
	return n, integer
}

// bareInt reads a JSON number written as an integer, or returns nil.
func (d *jsonDecoder) bareInt() []byte {
	n, integer := numberLen(d.in[d.pos:])
	if n == 0 || !integer {
		return nil
	}
	d.pos += n
	return d.in[d.pos-n : d.pos]
}

// intText reads an integer field's value: an integer, bare or quoted (int64 is written "123").
func (d *jsonDecoder) intText() []byte {
	if d.in[d.pos] != '"' {
		return d.bareInt()
	}
	s, ok := d.str()
	if !ok {
		return nil
	}
	if n, integer := numberLen(s); n != len(s) || !integer {
		return nil
	}
	return s
}

func jsonInt(s []byte, bits int) (int64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	v, err := strconv.ParseInt(unsafeString(s), 10, bits)
	return v, err == nil
}

func jsonUint(s []byte, bits int) (uint64, bool) {
	if len(s) == 0 || s[0] == '-' {
		return 0, false
	}
	v, err := strconv.ParseUint(unsafeString(s), 10, bits)
	return v, err == nil
}

// float reads a float field's value: a number, or a string holding one or "NaN", "Infinity" or
// "-Infinity".
func (d *jsonDecoder) float(bits int) (float64, bool) {
	var s []byte
	if d.in[d.pos] == '"' {
		q, ok := d.str()
		if !ok {
			return 0, false
		}
		switch string(q) {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
		if n, _ := numberLen(q); n == 0 || n != len(q) {
			return 0, false
		}
		s = q
	} else {
		n, _ := numberLen(d.in[d.pos:])
		if n == 0 {
			return 0, false
		}
		s = d.in[d.pos : d.pos+n]
		d.pos += n
	}
	v, err := strconv.ParseFloat(unsafeString(s), bits)
	return v, err == nil
}

// base64For picks the encoding protojson reads a bytes value with: URL-safe when it has '-' or '_',
// unpadded when its length is not a multiple of 4.
func base64For(s []byte) *base64.Encoding {
	url := bytes.ContainsAny(s, "-_")
	switch {
	case len(s)%4 != 0 && url:
		return base64.RawURLEncoding
	case len(s)%4 != 0:
		return base64.RawStdEncoding
	case url:
		return base64.URLEncoding
	}
	return base64.StdEncoding
}
