package routing

import (
	"fmt"
	"math"
	"time"
)

// ParseTimeout parses a grpc-timeout value as the gRPC protocol writes it: 1 to 8 ASCII digits and a
// unit (H, M, S, m, u, n). ok is false for a value too large to be a deadline (over about 292 years),
// which means no deadline. Fronts that take a deadline from an HTTP header (REST, gRPC-Web) use it.
func ParseTimeout(s string) (d time.Duration, ok bool, err error) {
	if len(s) < 2 || len(s) > 9 {
		return 0, false, fmt.Errorf("malformed grpc-timeout %q: want 1 to 8 digits and a unit", s)
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false, fmt.Errorf("malformed grpc-timeout %q: unknown unit %q", s, s[len(s)-1])
	}
	var n int64
	for i := 0; i < len(s)-1; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false, fmt.Errorf("malformed grpc-timeout %q: want 1 to 8 digits and a unit", s)
		}
		n = n*10 + int64(c-'0')
	}
	if n > math.MaxInt64/int64(unit) {
		return 0, false, nil
	}
	return time.Duration(n) * unit, true, nil
}
