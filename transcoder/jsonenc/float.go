package jsonenc

import (
	"math"
	"strconv"
)

// AppendFloat appends f as a JSON number, as encoding/json and protojson write a float of bitSize
// bits (32 or 64): the shortest digits that read back as the same value, in exponent form (e+21,
// e-7) below 1e-6 and from 1e21 on. NaN and the infinities, which JSON numbers cannot hold, are
// written as protojson writes them: the strings "NaN", "Infinity" and "-Infinity". Callers whose
// format has no such strings (GraphQL's Float) refuse those values before calling.
func AppendFloat(dst []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) || bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bitSize)
	if format == 'e' {
		// e-07 to e-7, as encoding/json writes it
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
