package textvalue_test

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/protogate/gateway/transcoder/textvalue"
)

// decimal is a number in decimal as grpc-gateway's strconv reads one, without Go's other literals:
// a sign, digits with a point anywhere (or none), an exponent.
var decimal = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// FuzzFloat checks Float against its rule: NaN, Infinity, -Infinity, and a decimal number within
// the type's range, as strconv reads it; and that it reads every text protojson reads a float or a
// double from (in a JSON string), as the same value.
func FuzzFloat(f *testing.F) {
	for _, s := range []string{"2.5", "-1e3", "Infinity", "-Infinity", "NaN", "3.4028235e38", "0x1p3", "1_0", "inf",
		"+Inf", "nan", "1e400", "1e39", "", "-0", "1e-400", "+1", ".5", "5.", "007", "1e+5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, bits := range []int{32, 64} {
			got, ok := textvalue.Float(text, bits)
			want, wantOK := 0.0, false
			switch text {
			case "NaN":
				want, wantOK = math.NaN(), true
			case "Infinity":
				want, wantOK = math.Inf(1), true
			case "-Infinity":
				want, wantOK = math.Inf(-1), true
			default:
				v, err := strconv.ParseFloat(text, bits)
				want, wantOK = v, err == nil && decimal.MatchString(text)
			}
			if ok != wantOK || ok && !same(got, want) {
				t.Fatalf("Float(%q, %d) = %v, %v; want %v, %v", text, bits, got, ok, want, wantOK)
			}
			js, _ := json.Marshal(text)
			var pj float64
			if bits == 32 {
				var m wrapperspb.FloatValue
				if protojson.Unmarshal(js, &m) != nil {
					continue
				}
				pj = float64(m.GetValue())
			} else {
				var m wrapperspb.DoubleValue
				if protojson.Unmarshal(js, &m) != nil {
					continue
				}
				pj = m.GetValue()
			}
			if !ok || !same(got, pj) {
				t.Fatalf("Float(%q, %d) = %v, %v; protojson reads %v", text, bits, got, ok, pj)
			}
		}
	})
}

// same reports whether a and b are the same float, NaN as NaN and -0 apart from 0.
func same(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
}
