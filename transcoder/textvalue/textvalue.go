// Package textvalue reads scalar values from the text of a URL (path variables and query
// parameters) by the one rule both HTTP fronts apply: the REST front's bindings and the GraphQL
// front's REST routes of persisted operations. The rule is grpc-gateway's for query parameters:
// it reads every value protobuf's JSON reads from a string, and decimal forms no JSON number has
// ("+1", ".5", "007"), but none of the Go literals strconv would also read ("0x1p3", "1_000").
//
// The package lives under transcoder because the top level is fixed (DESIGN.md) and reading
// protobuf values from text is the transcoder's concern in that layout. It imports nothing from
// the module, so the GraphQL front uses it without depending on the REST front, as it uses
// transcoder/jsonenc.
package textvalue

import (
	"math"
	"strconv"
	"strings"
)

// Bool reads a bool as grpc-gateway reads one from a query parameter (strconv.ParseBool): "true",
// "True", "TRUE", "t", "T" and "1", and the same of false ("false", ..., "f", "F", "0").
func Bool(text string) (v, ok bool) {
	v, err := strconv.ParseBool(text)
	return v, err == nil
}

// Float reads a float (bits 32) or a double (bits 64) as grpc-gateway reads one from a query
// parameter: a decimal number as strconv reads it (every JSON number, and "+1", ".5", "007" too),
// "NaN", "Infinity" or "-Infinity". strconv also reads Go's literals, hex floats ("0x1p3") and '_'
// between digits ("1_000"), and its own spellings of the infinities and NaN ("inf", "nan"), which
// no JSON value has: those are refused (grpc-gateway refuses them too), and so is a number beyond
// the type's range.
func Float(text string, bits int) (float64, bool) {
	switch text {
	case "NaN":
		return math.NaN(), true
	case "Infinity":
		return math.Inf(1), true
	case "-Infinity":
		return math.Inf(-1), true
	}
	v, err := strconv.ParseFloat(text, bits)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || strings.ContainsAny(text, "xX_") {
		return 0, false
	}
	return v, true
}
