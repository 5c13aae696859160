package resolvers

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// JSON output primitives. They append to a byte slice and never fail: values JSON cannot hold are
// reported by their callers as field errors before anything is written.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as in encoding/json.
func appendString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		var r rune
		var size int
		switch v := any(s).(type) {
		case string:
			r, size = utf8.DecodeRuneInString(v[i:])
		case []byte:
			r, size = utf8.DecodeRune(v[i:])
		}
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// errNotFinite is the field error of a float JSON cannot hold.
var errNotFinite = status.Error(codes.OutOfRange, "Float cannot represent a NaN or infinite value")

// appendFloat appends f as a JSON number the way encoding/json does, with the shortest digits that
// read back as the same float of the given size (32 or 64 bits).
func appendFloat(b []byte, f float64, bits int) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendBase64 appends data as a JSON string in standard base64 with padding.
func appendBase64(b []byte, data []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, data)
	return append(b, '"')
}

// Timestamp and Duration limits, as protobuf's JSON mapping has them.
const (
	minTimestamp = -62135596800 // 0001-01-01T00:00:00Z
	maxTimestamp = 253402300799 // 9999-12-31T23:59:59Z
	maxDuration  = 315576000000 // 10,000 years
)

var (
	errTimestamp = status.Error(codes.OutOfRange, "invalid google.protobuf.Timestamp: out of range or with invalid nanos")
	errDuration  = status.Error(codes.OutOfRange, "invalid google.protobuf.Duration: out of range or with invalid nanos")
)

// appendTimestamp appends a Timestamp as protobuf's JSON does: RFC 3339 in UTC with 0, 3, 6 or 9
// fractional digits.
func appendTimestamp(b []byte, secs int64, nanos int32) ([]byte, error) {
	if secs < minTimestamp || secs > maxTimestamp || nanos < 0 || nanos > 999_999_999 {
		return b, errTimestamp
	}
	b = append(b, '"')
	b = time.Unix(secs, int64(nanos)).UTC().AppendFormat(b, "2006-01-02T15:04:05")
	b = appendNanos(b, nanos)
	return append(b, 'Z', '"'), nil
}

// appendDuration appends a Duration as protobuf's JSON does: seconds with 0, 3, 6 or 9 fractional
// digits and the suffix "s".
func appendDuration(b []byte, secs int64, nanos int32) ([]byte, error) {
	if secs < -maxDuration || secs > maxDuration || nanos <= -1e9 || nanos >= 1e9 ||
		(secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
		return b, errDuration
	}
	b = append(b, '"')
	if secs < 0 || nanos < 0 {
		b = append(b, '-')
		secs, nanos = -secs, -nanos
	}
	b = strconv.AppendInt(b, secs, 10)
	b = appendNanos(b, nanos)
	return append(b, 's', '"'), nil
}

// appendNanos appends ".ddd", ".dddddd" or ".ddddddddd", or nothing for 0.
func appendNanos(b []byte, nanos int32) []byte {
	if nanos == 0 {
		return b
	}
	digits, n := 9, nanos
	for digits > 3 && n%1000 == 0 {
		n /= 1000
		digits -= 3
	}
	b = append(b, '.')
	var tmp [9]byte
	for i := digits - 1; i >= 0; i-- {
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, tmp[:digits]...)
}

// parseDuration reads a Duration in protobuf's JSON form: an optional '-', seconds, an optional
// fraction of up to nine digits, and "s".
func parseDuration(s string) (secs int64, nanos int32, err error) {
	bad := errors.New(`invalid Duration: want seconds with up to 9 fractional digits and the suffix "s", e.g. "1.5s"`)
	rest, ok := cutSuffix(s, "s")
	if !ok || rest == "" {
		return 0, 0, bad
	}
	neg := rest[0] == '-'
	if neg {
		rest = rest[1:]
	}
	whole, frac := rest, ""
	for i := 0; i < len(rest); i++ {
		if rest[i] == '.' {
			whole, frac = rest[:i], rest[i+1:]
			break
		}
	}
	if whole == "" && frac == "" || len(frac) > 9 || !digitsOnly(whole) || !digitsOnly(frac) {
		return 0, 0, bad
	}
	if whole != "" {
		if secs, err = strconv.ParseInt(whole, 10, 64); err != nil || secs > maxDuration {
			return 0, 0, errors.New("invalid Duration: out of range")
		}
	}
	if frac != "" {
		n, _ := strconv.ParseInt(frac, 10, 64)
		for i := len(frac); i < 9; i++ {
			n *= 10
		}
		nanos = int32(n)
	}
	if neg {
		secs, nanos = -secs, -nanos
	}
	return secs, nanos, nil
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseTimestamp reads an RFC 3339 time within Timestamp's range.
func parseTimestamp(s string) (secs int64, nanos int32, err error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, 0, errors.New(`invalid DateTime: want RFC 3339, e.g. "2024-05-01T12:30:00Z"`)
	}
	secs = t.Unix()
	if secs < minTimestamp || secs > maxTimestamp {
		return 0, 0, errors.New("invalid DateTime: out of range (years 1 to 9999)")
	}
	return secs, int32(t.Nanosecond()), nil
}
