//go:build race

package sanitize_test

// race: the race detector is on, which makes sync.Pool drop what it is given (so pooled values
// are allocated again): allocation counts do not hold.
const race = true
