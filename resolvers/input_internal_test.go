package resolvers

import (
	"encoding/json"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// toFloat32 takes what rounds to a finite float32 and refuses what rounds to infinity, from text
// and from float64 values alike.
func TestToFloat32(t *testing.T) {
	below := math.Nextafter(float32Overflow, 0) // the last float64 that rounds down
	for _, tc := range []struct {
		val  any
		want float32
		ok   bool
	}{
		{json.Number("3.4028235e+38"), math.MaxFloat32, true},
		{"-3.4028235e+38", -math.MaxFloat32, true},
		{json.Number("3.4028235677973366e38"), math.MaxFloat32, true}, // below the midpoint, though its float64 is not
		{json.Number("3.40282357e38"), 0, false},
		{json.Number("1e400"), 0, false},
		{"Infinity", float32(math.Inf(1)), true},
		{float64(math.MaxFloat32), math.MaxFloat32, true},
		{below, math.MaxFloat32, true},
		{-below, -math.MaxFloat32, true},
		{float64(float32Overflow), 0, false},
		{-float64(float32Overflow), 0, false},
		{math.Inf(-1), float32(math.Inf(-1)), true},
		{int64(16777217), 16777216, true},
	} {
		got, err := toFloat32(tc.val)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("toFloat32(%v) = %v, %v; want %v, ok %v", tc.val, got, err, tc.want, tc.ok)
		}
	}
}

// intText reads integers as protobuf's JSON does: JSON numbers whose value is whole, computed from
// the digits exactly, and nothing else (Go's literals least of all).
func TestIntText(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"0", "0", true},
		{"-0", "0", true},
		{"12345678901234567", "12345678901234567", true},
		{"-9223372036854775808", "-9223372036854775808", true},
		{"12345678901234567.0", "12345678901234567", true},
		{"1.2345678901234567e16", "12345678901234567", true},
		{"1e3", "1000", true},
		{"1.5E+3", "1500", true},
		{"100e-2", "1", true},
		{"-2.50e1", "-25", true},
		{"0.0e9", "0", true},
		{"18446744073709551615.000", "18446744073709551615", true},
		{"1.5", "", false},
		{"5e-1", "", false},
		{"1e21", "", false},
		{"1e-99999999999", "", false},
		{"0x1p4", "", false},
		{"0x10", "", false},
		{"0x1.8p1", "", false},
		{"1_0", "", false},
		{"+5", "", false},
		{"007", "", false},
		{" 5", "", false},
		{"5.", "", false},
		{".5", "", false},
		{"1e", "", false},
		{"-", "", false},
		{"", "", false},
		{"Infinity", "", false},
	} {
		got, ok := intText(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("intText(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzIntText checks intText against protojson, whose reading of an integer field it follows: the
// digits it gives are the number's value exactly, as math/big reads it, and read into each integer
// type as toInt and toUint read them, they take the texts protojson takes (from a JSON string), as
// the same values.
func FuzzIntText(f *testing.F) {
	for _, s := range []string{"0", "-0", "12345678901234567", "-9223372036854775808", "12345678901234567.0",
		"1.2345678901234567e16", "1e3", "1.5E+3", "100e-2", "-2.50e1", "0.0e9", "18446744073709551615.000", "1.5",
		"5e-1", "1e21", "1e-99999999999", "0x1p4", "0x10", "1_0", "+5", "007", " 5", "5.", ".5", "1e", "-", "",
		"Infinity", "0.05e2", "4294967296", "-2147483649"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		digits, ok := intText(s)
		if ok {
			exact, isNumber := new(big.Rat).SetString(s)
			n, _ := new(big.Int).SetString(digits, 10)
			if !integerDigits.MatchString(digits) || !isNumber || !exact.IsInt() || exact.Num().Cmp(n) != 0 {
				t.Fatalf("intText(%q) = %q; math/big reads %v", s, digits, exact)
			}
		}
		js, err := json.Marshal(s)
		if err != nil {
			return
		}
		for _, c := range []struct {
			m     proto.Message
			parse func() (*big.Int, error) // digits, as toInt or toUint reads them for m's type
		}{
			{&wrapperspb.Int32Value{}, func() (*big.Int, error) { n, err := strconv.ParseInt(digits, 10, 32); return big.NewInt(n), err }},
			{&wrapperspb.Int64Value{}, func() (*big.Int, error) { n, err := strconv.ParseInt(digits, 10, 64); return big.NewInt(n), err }},
			{&wrapperspb.UInt32Value{}, func() (*big.Int, error) {
				n, err := strconv.ParseUint(digits, 10, 32)
				return new(big.Int).SetUint64(n), err
			}},
			{&wrapperspb.UInt64Value{}, func() (*big.Int, error) {
				n, err := strconv.ParseUint(digits, 10, 64)
				return new(big.Int).SetUint64(n), err
			}},
		} {
			want := protojson.Unmarshal(js, c.m) == nil
			got, err := c.parse()
			switch {
			case (ok && err == nil) != want:
				t.Fatalf("intText(%q) = %q, %v, read as %T: %v; protojson reads %s: %v", s, digits, ok, c.m, err, js, want)
			case want && got.Cmp(wrapperValue(c.m)) != 0:
				t.Fatalf("intText(%q) = %q, read as %T %v; protojson reads %v", s, digits, c.m, got, wrapperValue(c.m))
			}
		}
	})
}

// integerDigits are the digits intText gives: decimal digits after an optional '-'.
var integerDigits = regexp.MustCompile(`^-?[0-9]+$`)

// wrapperValue is the value of an integer wrapper.
func wrapperValue(m proto.Message) *big.Int {
	switch m := m.(type) {
	case *wrapperspb.Int32Value:
		return big.NewInt(int64(m.GetValue()))
	case *wrapperspb.Int64Value:
		return big.NewInt(m.GetValue())
	case *wrapperspb.UInt32Value:
		return new(big.Int).SetUint64(uint64(m.GetValue()))
	}
	return new(big.Int).SetUint64(m.(*wrapperspb.UInt64Value).GetValue())
}

// Integer inputs are exact and refuse Go's literals, from numbers and strings alike; so do floats
// from strings.
func TestNumbersFromText(t *testing.T) {
	for _, tc := range []struct {
		val  any
		want int64
		ok   bool
	}{
		{json.Number("12345678901234567.0"), 12345678901234567, true},
		{"1.2345678901234567e16", 12345678901234567, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"9223372036854775808", 0, false},
		{"0x1p4", 0, false},
		{"1_0", 0, false},
		{"0x1.8p1", 0, false},
		{json.Number("1.5"), 0, false},
	} {
		got, err := toInt(tc.val, math.MinInt64, math.MaxInt64)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("toInt(%v) = %d, %v; want %d, ok %v", tc.val, got, err, tc.want, tc.ok)
		}
	}
	if n, err := toUint("18446744073709551615.0", math.MaxUint64); err != nil || n != math.MaxUint64 {
		t.Errorf("toUint of 2^64-1 with a fraction of zeros = %d, %v", n, err)
	}
	for _, s := range []string{"0x1p4", "1_0", "+1e1x", "-1"} {
		if n, err := toUint(s, math.MaxUint32); err == nil {
			t.Errorf("toUint(%q) = %d, want an error", s, n)
		}
	}
	for _, s := range []string{"0x1p3", "1_0", "inf", "+Inf", "nan", "infinity"} {
		if f, err := toFloat(s); err == nil {
			t.Errorf("toFloat(%q) = %v, want an error", s, f)
		}
		if f, err := toFloat32(s); err == nil {
			t.Errorf("toFloat32(%q) = %v, want an error", s, f)
		}
	}
}
