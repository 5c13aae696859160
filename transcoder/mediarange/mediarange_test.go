package mediarange_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/protogate/gateway/transcoder/mediarange"
)

func TestRanges(t *testing.T) {
	var got []string
	for typ, params := range mediarange.Ranges([]string{" application/json ;q=0.5, text/*", "", "*/*;q=0;level=1,"}) {
		got = append(got, fmt.Sprintf("%s|%s|%g", typ, params, mediarange.Q(params)))
	}
	want := []string{"application/json|q=0.5|0.5", "text/*||1", "*/*|q=0;level=1|0"}
	if !slices.Equal(got, want) {
		t.Errorf("ranges = %q, want %q", got, want)
	}
}

func TestQ(t *testing.T) {
	for params, want := range map[string]float64{
		"":                    1,
		"q=0":                 0,
		" Q = 0.25 ":          0.25,
		"charset=utf-8;q=0.7": 0.7,
		"q=2":                 1, // out of range: unreadable
		"q=x":                 1,
		"q=-0.5":              1,
		"q=NaN":               1, // no comparison orders NaN
		"q=0x1p-1":            1, // Go's literals are not HTTP's
		"q=5e-1":              1,
	} {
		if got := mediarange.Q(params); got != want {
			t.Errorf("Q(%q) = %g, want %g", params, got, want)
		}
	}
}
