package resolvers

import (
	"errors"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/transcoder/jsonenc"
)

// JSON output primitives. They append to a byte slice and never fail: values JSON cannot hold are
// reported by their callers as field errors before anything is written. The encoding is package
// jsonenc's, shared with the REST front and the access log.

// appendString appends s as a JSON string as encoding/json writes it (jsonenc.AppendString):
// invalid UTF-8 becomes U+FFFD, and a response stays valid JSON whatever an upstream sent.
func appendString[S string | []byte](b []byte, s S) []byte { return jsonenc.AppendString(b, s) }

// errNotFinite is the field error of a float JSON cannot hold.
var errNotFinite = status.Error(codes.OutOfRange, "Float cannot represent a NaN or infinite value")

// appendFloat appends f, finite, as a JSON number the way encoding/json does, with the shortest
// digits that read back as the same float of the given size (32 or 64 bits). Callers refuse NaN and
// infinities first, with errNotFinite or their own forms.
func appendFloat(b []byte, f float64, bits int) []byte { return jsonenc.AppendFloat(b, f, bits) }

// appendBase64 appends data as a JSON string in standard base64 with padding.
func appendBase64(b []byte, data []byte) []byte { return jsonenc.AppendBase64(b, data) }

var (
	errTimestamp = status.Error(codes.OutOfRange, "invalid google.protobuf.Timestamp: out of range or with invalid nanos")
	errDuration  = status.Error(codes.OutOfRange, "invalid google.protobuf.Duration: out of range or with invalid nanos")
)

// appendTimestamp appends a Timestamp as protobuf's JSON does: RFC 3339 in UTC with 0, 3, 6 or 9
// fractional digits. A value out of protobuf's range is errTimestamp.
func appendTimestamp(b []byte, secs int64, nanos int32) ([]byte, error) {
	b, ok := jsonenc.AppendTimestamp(b, secs, nanos)
	if !ok {
		return b, errTimestamp
	}
	return b, nil
}

// appendDuration appends a Duration as protobuf's JSON does: seconds with 0, 3, 6 or 9 fractional
// digits and the suffix "s". A value out of protobuf's range is errDuration.
func appendDuration(b []byte, secs int64, nanos int32) ([]byte, error) {
	b, ok := jsonenc.AppendDuration(b, secs, nanos)
	if !ok {
		return b, errDuration
	}
	return b, nil
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
		if secs, err = strconv.ParseInt(whole, 10, 64); err != nil || secs > jsonenc.MaxDuration {
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
	if secs < jsonenc.MinTimestamp || secs > jsonenc.MaxTimestamp {
		return 0, 0, errors.New("invalid DateTime: out of range (years 1 to 9999)")
	}
	return secs, int32(t.Nanosecond()), nil
}
