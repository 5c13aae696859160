package textvalue_test

import (
	"math"
	"testing"

	"github.com/protogate/gateway/transcoder/textvalue"
)

func TestBool(t *testing.T) {
	for _, tc := range []struct {
		text   string
		want   bool
		wantOK bool
	}{
		{"true", true, true}, {"True", true, true}, {"TRUE", true, true}, {"t", true, true}, {"T", true, true}, {"1", true, true},
		{"false", false, true}, {"F", false, true}, {"0", false, true},
		{"yes", false, false}, {"", false, false}, {"tRUE", false, false}, {"2", false, false},
	} {
		if got, ok := textvalue.Bool(tc.text); got != tc.want || ok != tc.wantOK {
			t.Errorf("Bool(%q) = %v, %v; want %v, %v", tc.text, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestFloat(t *testing.T) {
	for _, tc := range []struct {
		text string
		bits int
		want float64
		ok   bool
	}{
		{"2.5", 64, 2.5, true},
		{"-1e3", 64, -1000, true},
		{"Infinity", 64, math.Inf(1), true},
		{"-Infinity", 32, math.Inf(-1), true},
		{"3.4028235e38", 32, math.MaxFloat32, true},
		{"0x1p3", 64, 0, false},
		{"1_0", 64, 0, false},
		{"inf", 64, 0, false},
		{"+Inf", 64, 0, false},
		{"nan", 64, 0, false},
		{"1e400", 64, 0, false},
		{"1e39", 32, 0, false},
		{"", 64, 0, false},
	} {
		got, ok := textvalue.Float(tc.text, tc.bits)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("Float(%q, %d) = %v, %v; want %v, %v", tc.text, tc.bits, got, ok, tc.want, tc.ok)
		}
	}
	if got, ok := textvalue.Float("NaN", 64); !ok || !math.IsNaN(got) {
		t.Errorf("Float(NaN) = %v, %v", got, ok)
	}
}
