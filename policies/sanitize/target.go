package sanitize

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// TargetError is a request path or query string the gateway refuses; Part is "path" or "query".
type TargetError struct {
	Part string
	Msg  string
}

func (e *TargetError) Error() string { return e.Msg }

func pathErr(format string, args ...any) error {
	return &TargetError{Part: "path", Msg: "request path " + fmt.Sprintf(format, args...)}
}

// CheckPath checks a request path as sent (percent-encoded, without the query string). It refuses
// what lets one path mean two things to the gateway and an upstream or a later hop: dot segments
// ("." and "..", raw or percent-encoded), empty segments ("//", except a trailing "/"), backslashes,
// percent-encoded slashes, backslashes and dots ("%2F", "%5C", "%2E"), double encoding ("%252E"),
// NUL and other control characters, raw or encoded, malformed escapes, and paths that are not valid
// UTF-8 once decoded.
func CheckPath(raw string) error {
	if raw == "" || raw == "*" {
		return nil
	}
	if raw[0] != '/' {
		return pathErr("%q does not start with \"/\"", truncate(raw))
	}
	var (
		segStart = 1
		dots     = 0 // dots (raw or encoded) in the segment so far
		other    = false
		utf8Buf  [utf8.UTFMax]byte
		nbuf     int
	)
	endSegment := func(i int) error {
		switch {
		case !other && dots == 1:
			return pathErr("has a \".\" segment")
		case !other && dots == 2:
			return pathErr("has a \"..\" segment")
		case i == segStart && i < len(raw):
			return pathErr("has an empty segment (\"//\")")
		}
		return nil
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		decoded := c
		if c == '%' {
			if i+2 >= len(raw) || unhex(raw[i+1]) < 0 || unhex(raw[i+2]) < 0 {
				return pathErr("has a malformed percent-encoding at byte %d", i)
			}
			decoded = byte(unhex(raw[i+1])<<4 | unhex(raw[i+2]))
			switch {
			case decoded == 0:
				return pathErr("has an encoded NUL (%%00)")
			case decoded < 0x20 || decoded == 0x7f:
				return pathErr("has an encoded control character (%s)", raw[i:i+3])
			case decoded == '/':
				return pathErr("has a percent-encoded slash (%s): ambiguous between a separator and data", raw[i:i+3])
			case decoded == '\\':
				return pathErr("has a percent-encoded backslash (%s)", raw[i:i+3])
			case decoded == '.':
				return pathErr("has a percent-encoded dot (%s)", raw[i:i+3])
			case decoded == '%' && i+4 < len(raw) && unhex(raw[i+3]) >= 0 && unhex(raw[i+4]) >= 0:
				return pathErr("is percent-encoded twice (%s)", raw[i:i+5])
			}
			i += 2
		} else {
			switch {
			case c == 0:
				return pathErr("has a NUL byte")
			case c < 0x20 || c == 0x7f:
				return pathErr("has a control character (0x%02X)", c)
			case c == '\\':
				return pathErr("has a backslash")
			}
		}
		if decoded >= utf8.RuneSelf {
			utf8Buf[nbuf] = decoded
			nbuf++
			if nbuf == 1 && (!utf8.RuneStart(decoded) || decoded >= 0xF8) {
				return pathErr("is not valid UTF-8")
			}
			if utf8.FullRune(utf8Buf[:nbuf]) {
				if r, size := utf8.DecodeRune(utf8Buf[:nbuf]); r == utf8.RuneError && size <= 1 || size != nbuf {
					return pathErr("is not valid UTF-8")
				}
				nbuf = 0
			} else if nbuf == utf8.UTFMax {
				return pathErr("is not valid UTF-8")
			}
			other = true
			continue
		}
		if nbuf > 0 {
			return pathErr("is not valid UTF-8")
		}
		switch {
		case c == '/':
			if err := endSegment(i); err != nil {
				return err
			}
			segStart, dots, other = i+1, 0, false
		case decoded == '.':
			dots++
		default:
			other = true
		}
	}
	if nbuf > 0 {
		return pathErr("is not valid UTF-8")
	}
	return endSegment(len(raw))
}

// CheckQuery checks a raw query string: well-formed percent-encoding, no raw semicolon (a separator
// to some servers, not to Go's), no NUL or control characters
// other than tab, CR and LF once decoded, and valid UTF-8 in every key and value.
func CheckQuery(raw string) error {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		if err := checkQueryPart(part); err != nil {
			return err
		}
	}
	return nil
}

func checkQueryPart(part string) error {
	key, _, _ := strings.Cut(part, "=")
	plain := true
	for i := 0; i < len(part); i++ {
		c := part[i]
		switch {
		case c == '%':
			plain = false
		case c == ';':
			return &TargetError{Part: "query", Msg: fmt.Sprintf("query parameter %q has a semicolon: separate parameters with \"&\", encode data as %%3B", truncate(key))}
		case c < 0x20 || c == 0x7f:
			return &TargetError{Part: "query", Msg: fmt.Sprintf("query parameter %q has a control character (0x%02X)", truncate(key), c)}
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	if plain {
		return nil
	}
	dec, err := url.QueryUnescape(part)
	if err != nil {
		return &TargetError{Part: "query", Msg: fmt.Sprintf("query parameter %q has a malformed percent-encoding", truncate(key))}
	}
	if dk, err := url.QueryUnescape(key); err == nil {
		key = dk
	}
	if !utf8.ValidString(dec) {
		return &TargetError{Part: "query", Msg: fmt.Sprintf("query parameter %q is not valid UTF-8", truncate(strings.ToValidUTF8(key, "\uFFFD")))}
	}
	for i := 0; i < len(dec); i++ {
		switch c := dec[i]; {
		case c == 0:
			return &TargetError{Part: "query", Msg: fmt.Sprintf("query parameter %q has an encoded NUL (%%00)", truncate(key))}
		case (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f:
			return &TargetError{Part: "query", Msg: fmt.Sprintf("query parameter %q has an encoded control character (0x%02X)", truncate(key), c)}
		}
	}
	return nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// truncate shortens s for a message.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
