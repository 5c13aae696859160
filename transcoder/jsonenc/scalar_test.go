package jsonenc_test

import (
	"encoding/json"
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/protogate/gateway/transcoder/jsonenc"
)

var floatCases = []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e-6, 9.99e-7, 1e-7, 123456789.125, 1e20, 1e21, -1e21,
	3.4028234663852886e38, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1)}

func TestAppendFloat(t *testing.T) {
	for _, f := range floatCases {
		checkFloat(t, f)
	}
}

// FuzzAppendFloat holds AppendFloat to encoding/json for finite values and to protojson for all,
// in both sizes.
func FuzzAppendFloat(f *testing.F) {
	for _, x := range floatCases {
		f.Add(x)
	}
	f.Fuzz(checkFloat)
}

func checkFloat(t *testing.T, f float64) {
	for _, size := range []struct {
		bits  int
		value any
		msg   proto.Message
	}{
		{64, f, wrapperspb.Double(f)},
		{32, float32(f), wrapperspb.Float(float32(f))},
	} {
		x := f
		if size.bits == 32 {
			x = float64(float32(f))
		}
		got := string(jsonenc.AppendFloat(nil, x, size.bits))
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			if want, _ := json.Marshal(size.value); got != string(want) {
				t.Errorf("AppendFloat(%v, %d) = %s, encoding/json writes %s", x, size.bits, got, want)
			}
		}
		if want, err := protojson.Marshal(size.msg); err != nil || got != string(want) {
			t.Errorf("AppendFloat(%v, %d) = %s, protojson writes %s (%v)", x, size.bits, got, want, err)
		}
	}
}

func TestAppendBase64(t *testing.T) {
	for _, data := range [][]byte{nil, {0}, {0, 1}, {0, 1, 2}, {0xfb, 0xff, 0xfe, 0x3e}} {
		want, _ := json.Marshal(data)
		if data == nil {
			want = []byte(`""`) // encoding/json writes a nil slice as null, a bytes field never
		}
		if got := jsonenc.AppendBase64(nil, data); string(got) != string(want) {
			t.Errorf("AppendBase64(%x) = %s, want %s", data, got, want)
		}
	}
}

// timeCases are (seconds, nanos) pairs at and beyond the ends of both ranges.
var timeCases = [][2]int64{
	{0, 0}, {1, 0}, {-1, 0}, {0, 500_000_000}, {0, -500_000_000}, {1, 120_000_000}, {1, 1_000}, {1, 1},
	{-1, -999_999_999}, {1, -1}, {-1, 1}, {0, 1_000_000_000}, {0, -1_000_000_000},
	{jsonenc.MinTimestamp, 0}, {jsonenc.MinTimestamp - 1, 0}, {jsonenc.MaxTimestamp, 999_999_999}, {jsonenc.MaxTimestamp + 1, 0},
	{jsonenc.MaxDuration, 999_999_999}, {-jsonenc.MaxDuration, -999_999_999}, {jsonenc.MaxDuration + 1, 0}, {-jsonenc.MaxDuration - 1, 0},
	{1714566600, 500_000_000},
}

func TestAppendTimestampDuration(t *testing.T) {
	for _, tc := range timeCases {
		checkTime(t, tc[0], int32(tc[1]))
	}
	if got, _ := jsonenc.AppendTimestamp(nil, 1714566600, 500_000_000); string(got) != `"2024-05-01T12:30:00.500Z"` {
		t.Errorf("timestamp = %s", got)
	}
	if got, _ := jsonenc.AppendDuration(nil, -1, -500_000_000); string(got) != `"-1.500s"` {
		t.Errorf("duration = %s", got)
	}
}

// FuzzAppendTimestampDuration holds both to protojson: the same output, or refusal of the same
// values.
func FuzzAppendTimestampDuration(f *testing.F) {
	for _, tc := range timeCases {
		f.Add(tc[0], int32(tc[1]))
	}
	f.Fuzz(checkTime)
}

func checkTime(t *testing.T, secs int64, nanos int32) {
	ts, tsOK := jsonenc.AppendTimestamp([]byte("x"), secs, nanos)
	d, dOK := jsonenc.AppendDuration([]byte("x"), secs, nanos)
	for _, c := range []struct {
		name string
		got  []byte
		ok   bool
		msg  proto.Message
	}{
		{"Timestamp", ts, tsOK, &timestamppb.Timestamp{Seconds: secs, Nanos: nanos}},
		{"Duration", d, dOK, &durationpb.Duration{Seconds: secs, Nanos: nanos}},
	} {
		want, err := protojson.Marshal(c.msg)
		switch {
		case err != nil && (c.ok || string(c.got) != "x"):
			t.Errorf("%s(%d, %d) = %s, protojson refuses it: %v", c.name, secs, nanos, c.got, err)
		case err == nil && (!c.ok || string(c.got) != "x"+string(want)):
			t.Errorf("%s(%d, %d) = %s, %t; protojson writes %s", c.name, secs, nanos, c.got, c.ok, want)
		}
	}
}
