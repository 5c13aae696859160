package telemetry

import (
	"fmt"
	"testing"
	"time"
)

// Once the series cache is full, calls of methods it holds no series of are counted under
// unknownMethod: the vectors stop growing, whatever names reach them.
func TestSeriesBeyondTheBoundAreUnknown(t *testing.T) {
	m := newMetrics(nil, nil)
	m.series.max = 3
	for i := range 10 {
		m.observe("grpc", fmt.Sprintf("/pkg.S/M%d", i), "OK", time.Millisecond)
	}
	m.observe("grpc", "/pkg.S/M0", "OK", time.Millisecond) // cached: keeps its name
	families, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "gateway_requests_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "method" {
					counts[l.GetValue()] = s.GetCounter().GetValue()
				}
			}
		}
	}
	want := map[string]float64{"/pkg.S/M0": 2, "/pkg.S/M1": 1, "/pkg.S/M2": 1, unknownMethod: 7}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("requests by method %v, want %v", counts, want)
	}
}
