// Package mediarange reads media types and the media ranges of Accept headers (RFC 9110, section
// 12.5.1) by the one rule both HTTP fronts negotiate with: the REST front's request body kinds,
// response and stream formats, and the GraphQL front's response type.
//
// The package lives under transcoder because the top level is fixed (DESIGN.md) and content
// negotiation is the transcoder's concern in that layout. It imports nothing from the module, so
// the GraphQL front uses it without depending on the REST front, as it uses transcoder/textvalue.
package mediarange

import (
	"iter"
	"strconv"
	"strings"
)

// Split returns the type/subtype of a Content-Type or media range, without parameters and the
// spaces around it, and its parameters: what follows the first ";". The type is not checked, nor
// are the parameters read.
func Split(v string) (typ, params string) {
	typ, params, _ = strings.Cut(v, ";")
	return strings.TrimSpace(typ), params
}

// Ranges yields the media ranges of Accept header values, each as its type and its parameters
// (Split), in order.
func Ranges(accept []string) iter.Seq2[string, string] {
	return func(yield func(typ, params string) bool) {
		for _, line := range accept {
			for line != "" {
				var item string
				item, line, _ = strings.Cut(line, ",")
				if !yield(Split(item)) {
					return
				}
			}
		}
	}
}

// Q reads the q parameter (the weight) of a media range's parameters: a decimal number from 0 to
// 1 ("0.5"; RFC 9110 has at most three decimals), 0 when the range refuses what it matches, and 1
// when absent or unreadable. strconv alone would also read "NaN", which no comparison orders, and
// Go's other literals ("0x1p-1", "5e-1"): they are unreadable.
func Q(params string) float64 {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			v = strings.TrimSpace(v)
			q, err := strconv.ParseFloat(v, 64)
			if err != nil || strings.Trim(v, "0123456789.") != "" || q > 1 {
				return 1
			}
			return q
		}
	}
	return 1
}
