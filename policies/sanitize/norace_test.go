//go:build !race

package sanitize_test

const race = false
