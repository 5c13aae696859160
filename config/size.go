package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes. The configuration file writes it as an
// integer or as a string with a unit: "512B", "64KiB", "4MiB", "1GiB"
// (powers of 1024) or "10kB", "10MB", "1GB" (powers of 1000).
type ByteSize int64

// Binary byte-size units.
const (
	KiB ByteSize = 1 << (10 * (iota + 1))
	MiB
	GiB
)

var sizeUnits = map[string]ByteSize{
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"kib": KiB,
	"mib": MiB,
	"gib": GiB,
}

// String writes s in the largest binary unit that divides it exactly,
// such as "4MiB" or "1500B".
func (s ByteSize) String() string {
	for _, u := range []struct {
		size ByteSize
		name string
	}{{GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if s != 0 && s%u.size == 0 {
			return strconv.FormatInt(int64(s/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

var errByteSize = errors.New("invalid byte size")

// parseByteSize parses a whole number followed by a unit, case
// insensitively and with optional space between: "4MiB", "10 MB".
func parseByteSize(s string) (ByteSize, error) {
	rest := strings.TrimLeft(s, "0123456789")
	number, unit := s[:len(s)-len(rest)], strings.TrimSpace(rest)
	n, err := strconv.ParseInt(number, 10, 64)
	scale, ok := sizeUnits[strings.ToLower(unit)]
	if err != nil || !ok || n > math.MaxInt64/int64(scale) {
		return 0, errByteSize
	}
	return ByteSize(n) * scale, nil
}
