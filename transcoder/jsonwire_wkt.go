package transcoder

import (
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The JSON-to-wire decoder's well-known types with a JSON form of their own: Timestamp, Duration and
// Value (Struct and ListValue read as a map and a list; the wrappers as their value).

// The range of google.protobuf.Timestamp, as protojson checks it: years 1 to 9999.
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
)

// timestamp reads a Timestamp in RFC 3339, as protojson does (time.Parse, then its range and at
// most nine fractional digits).
func (d *jsonDecoder) timestamp() bool {
	b, ok := d.str()
	if !ok {
		return false
	}
	s := unsafeString(b)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return false
	}
	secs := t.Unix()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds {
		return false
	}
	if i, j := strings.LastIndexByte(s, '.'), strings.LastIndexAny(s, "Z-+"); i >= 0 && j >= i && j-i > len(".999999999") {
		return false
	}
	d.appendTime(secs, int32(t.Nanosecond()))
	return true
}

func (d *jsonDecoder) appendTime(secs int64, nanos int32) {
	if secs != 0 {
		d.out = protowire.AppendVarint(protowire.AppendTag(d.out, 1, protowire.VarintType), uint64(secs))
	}
	if nanos != 0 {
		d.out = protowire.AppendVarint(protowire.AppendTag(d.out, 2, protowire.VarintType), uint64(int64(nanos)))
	}
}

// duration reads a Duration as protojson does: an optional sign, the seconds (no leading zeros),
// an optional '.' and up to nine fractional digits, then "s" ("1s", "-1.5s", "1.s", ".5s", "+2s").
func (d *jsonDecoder) duration() bool {
	b, ok := d.str()
	if !ok || len(b) < 2 || b[len(b)-1] != 's' {
		return false
	}
	b = b[:len(b)-1]
	neg := false
	switch b[0] {
	case '-':
		neg, b = true, b[1:]
	case '+':
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	var intp []byte
	switch {
	case b[0] == '0':
		b = b[1:]
	case '1' <= b[0] && b[0] <= '9':
		n := 1
		for n < len(b) && '0' <= b[n] && b[n] <= '9' {
			n++
		}
		intp, b = b[:n], b[n:]
	case b[0] != '.':
		return false
	}
	var nanos int64
	if len(b) > 0 {
		if b[0] != '.' {
			return false
		}
		b = b[1:]
		n := 0
		for n < len(b) && n < 9 && '0' <= b[n] && b[n] <= '9' {
			nanos = nanos*10 + int64(b[n]-'0')
			n++
		}
		if n != len(b) {
			return false
		}
		for range 9 - n {
			nanos *= 10
		}
	}
	var secs int64
	if len(intp) > 0 {
		var err error
		if secs, err = strconv.ParseInt(unsafeString(intp), 10, 64); err != nil {
			return false
		}
	}
	if neg {
		secs, nanos = -secs, -nanos
	}
	if secs < -maxDurationSeconds || secs > maxDurationSeconds {
		return false
	}
	d.appendTime(secs, int32(nanos))
	return true
}

// value reads a google.protobuf.Value: any JSON value.
func (d *jsonDecoder) value(c *jsonCodec) bool {
	switch d.in[d.pos] {
	case 'n':
		if !d.lit("null") {
			return false
		}
		d.out = protowire.AppendVarint(protowire.AppendTag(d.out, 1, protowire.VarintType), 0)
	case 't', 'f':
		v := uint64(0)
		switch {
		case d.lit("true"):
			v = 1
		case !d.lit("false"):
			return false
		}
		d.out = protowire.AppendVarint(protowire.AppendTag(d.out, 4, protowire.VarintType), v)
	case '"':
		s, ok := d.str()
		if !ok {
			return false
		}
		d.out = protowire.AppendBytes(protowire.AppendTag(d.out, 3, protowire.BytesType), s)
	case '{', '[':
		num, sub := protowire.Number(5), c.structC
		if d.in[d.pos] == '[' {
			num, sub = 6, c.listC
		}
		d.out = protowire.AppendTag(d.out, num, protowire.BytesType)
		start := d.begin()
		if !d.message(sub) {
			return false
		}
		d.end(start)
	default:
		n, _ := numberLen(d.in[d.pos:])
		if n == 0 {
			return false
		}
		v, err := strconv.ParseFloat(unsafeString(d.in[d.pos:d.pos+n]), 64)
		if err != nil {
			return false
		}
		d.pos += n
		d.out = protowire.AppendFixed64(protowire.AppendTag(d.out, 2, protowire.Fixed64Type), math.Float64bits(v))
	}
	return true
}
