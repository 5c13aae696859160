package resolvers

import (
	"encoding/json"
	"math"
	"testing"
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
