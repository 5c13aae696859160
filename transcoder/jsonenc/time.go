package jsonenc

import (
	"strconv"
	"time"
)

// The ranges of google.protobuf.Timestamp and Duration, in seconds, as protobuf's JSON mapping has
// them.
const (
	MinTimestamp = -62135596800 // 0001-01-01T00:00:00Z
	MaxTimestamp = 253402300799 // 9999-12-31T23:59:59Z
	MaxDuration  = 315576000000 // about 10,000 years, either sign
)

// AppendTimestamp appends a google.protobuf.Timestamp as protojson writes it: a JSON string in
// RFC 3339, UTC ("Z"), with 0, 3, 6 or 9 fractional digits. A value out of range (seconds outside
// MinTimestamp to MaxTimestamp, nanos outside 0 to 999,999,999), which protojson refuses, is not
// written: it returns dst unchanged and false.
func AppendTimestamp(dst []byte, secs int64, nanos int32) ([]byte, bool) {
	if secs < MinTimestamp || secs > MaxTimestamp || nanos < 0 || nanos > 999_999_999 {
		return dst, false
	}
	dst = append(dst, '"')
	dst = time.Unix(secs, int64(nanos)).UTC().AppendFormat(dst, "2006-01-02T15:04:05")
	dst = appendNanos(dst, nanos)
	return append(dst, 'Z', '"'), true
}

// AppendDuration appends a google.protobuf.Duration as protojson writes it: a JSON string of the
// seconds with 0, 3, 6 or 9 fractional digits and the suffix "s" ("-1.500s"). A value out of range
// (seconds beyond MaxDuration either way, nanos beyond 999,999,999 either way, or seconds and nanos
// of opposite signs), which protojson refuses, is not written: it returns dst unchanged and false.
func AppendDuration(dst []byte, secs int64, nanos int32) ([]byte, bool) {
	if secs < -MaxDuration || secs > MaxDuration || nanos <= -1e9 || nanos >= 1e9 ||
		(secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
		return dst, false
	}
	dst = append(dst, '"')
	if secs < 0 || nanos < 0 {
		dst = append(dst, '-')
		secs, nanos = -secs, -nanos
	}
	dst = strconv.AppendInt(dst, secs, 10)
	dst = appendNanos(dst, nanos)
	return append(dst, 's', '"'), true
}

// appendNanos appends ".ddd", ".dddddd" or ".ddddddddd" (the fewest groups of three digits that
// hold nanos exactly), or nothing for 0.
func appendNanos(dst []byte, nanos int32) []byte {
	if nanos == 0 {
		return dst
	}
	digits, n := 9, nanos
	for digits > 3 && n%1000 == 0 {
		n /= 1000
		digits -= 3
	}
	var tmp [9]byte
	for i := digits - 1; i >= 0; i-- {
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	return append(append(dst, '.'), tmp[:digits]...)
}
