package routing_test

import (
	"math"
	"math/big"
	"regexp"
	"testing"
	"time"

	"github.com/protogate/gateway/routing"
)

// grpcTimeout is the gRPC protocol's grammar of a grpc-timeout value: 1 to 8 ASCII digits, a unit.
var grpcTimeout = regexp.MustCompile(`^[0-9]{1,8}[HMSmun]$`)

// FuzzParseTimeout checks ParseTimeout against the protocol's grammar and exact arithmetic: it
// takes exactly the values the grammar does, a duration of digits times the unit, and no deadline
// (ok false) only when that is beyond a time.Duration.
func FuzzParseTimeout(f *testing.F) {
	for _, s := range []string{"7S", "1500m", "99999999u", "2M", "1H", "30000000n", "99999999H", "0n", "S", "1", "123456789S",
		"10s", "-1S", "1.5S", "abcS", "+1S", " 1S", "1S ", "\u0661S"} {
		f.Add(s)
	}
	units := map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second, 'm': time.Millisecond,
		'u': time.Microsecond, 'n': time.Nanosecond}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok, err := routing.ParseTimeout(s)
		if !grpcTimeout.MatchString(s) {
			if err == nil {
				t.Fatalf("ParseTimeout(%q) = %v, %v; want an error", s, d, ok)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseTimeout(%q): %v", s, err)
		}
		n, _ := new(big.Int).SetString(s[:len(s)-1], 10)
		want := n.Mul(n, big.NewInt(int64(units[s[len(s)-1]])))
		switch {
		case ok != (want.Cmp(big.NewInt(math.MaxInt64)) <= 0):
			t.Fatalf("ParseTimeout(%q) ok %v for %v ns", s, ok, want)
		case ok && big.NewInt(int64(d)).Cmp(want) != 0:
			t.Fatalf("ParseTimeout(%q) = %v, want %v ns", s, d, want)
		}
	})
}
