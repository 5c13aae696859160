package telemetry

import (
	"strconv"
	"testing"
	"time"
)

// TestAppendMillis: latency_ms reads as the shortest decimal of the latency's whole microseconds in
// milliseconds, as strconv's shortest float formatting writes it.
func TestAppendMillis(t *testing.T) {
	for _, us := range []int64{0, 1, 5, 10, 90, 100, 120, 298, 999, 1000, 1001, 1500, 12340, 123456789} {
		d := time.Duration(us)*time.Microsecond + 999*time.Nanosecond // the nanoseconds are dropped
		want := strconv.FormatFloat(float64(us)/1000, 'f', -1, 64)
		if got := string(appendMillis(nil, d)); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
	if got := string(appendMillis(nil, -time.Second)); got != "0" {
		t.Errorf("a negative latency: %q, want 0", got)
	}
}
