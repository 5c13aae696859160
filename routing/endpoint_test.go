package routing_test

import (
	"sync"
	"testing"
)

func TestEndpointInFlight(t *testing.T) {
	e := coreEndpoints(t, 1)[0]
	if e.Addr() != "192.0.2.1:50051" {
		t.Errorf("Addr = %q", e.Addr())
	}
	if e.Conn() == nil {
		t.Fatal("Conn = nil")
	}
	done1 := e.Begin()
	done2 := e.Begin()
	if got := e.InFlight(); got != 2 {
		t.Fatalf("InFlight = %d, want 2", got)
	}
	done1()
	if got := e.InFlight(); got != 1 {
		t.Fatalf("InFlight = %d, want 1", got)
	}
	done2()
	if got := e.InFlight(); got != 0 {
		t.Fatalf("InFlight = %d, want 0", got)
	}
}

func TestEndpointInFlightConcurrent(t *testing.T) {
	e := coreEndpoints(t, 1)[0]
	start := make(chan struct{})
	var begun, finish sync.WaitGroup
	var wg sync.WaitGroup
	finish.Add(1)
	for range 16 {
		begun.Add(1)
		wg.Go(func() {
			<-start
			for range 1000 {
				e.Begin()()
			}
			done := e.Begin()
			begun.Done()
			finish.Wait()
			done()
		})
	}
	close(start)
	begun.Wait()
	if got := e.InFlight(); got != 16 {
		t.Errorf("InFlight with 16 calls open = %d", got)
	}
	finish.Done()
	wg.Wait()
	if got := e.InFlight(); got != 0 {
		t.Errorf("InFlight after all done = %d", got)
	}
}

func TestEndpointBeginDoesNotAllocate(t *testing.T) {
	e := coreEndpoints(t, 1)[0]
	if n := testing.AllocsPerRun(100, func() { e.Begin()() }); n != 0 {
		t.Errorf("Begin/done allocates %v times, want 0", n)
	}
}

func BenchmarkEndpointBegin(b *testing.B) {
	e := coreEndpoints(b, 1)[0]
	b.ReportAllocs()
	for b.Loop() {
		e.Begin()()
	}
}
