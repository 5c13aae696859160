package store_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/protogate/gateway/registry/store"
)

// benchRegistrations is the size of the registry the benchmarks run against.
const benchRegistrations = 500

func BenchmarkCommit(b *testing.B) {
	for _, kind := range []string{"memory", "file"} {
		b.Run(kind, func(b *testing.B) {
			s := openBenchStore(b, kind)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r := benchRecord(i%benchRegistrations, uint64(2+i/benchRegistrations))
				if err := s.Commit(b.Context(), r.Name, r.Version, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	for _, kind := range []string{"memory", "file"} {
		b.Run(kind, func(b *testing.B) {
			s := openBenchStore(b, kind)
			b.SetBytes(int64(benchRegistrations * len(benchRecord(0, 1).Payload)))
			b.ReportAllocs()
			for b.Loop() {
				if st, err := s.Load(b.Context()); err != nil || len(st.Records) != benchRegistrations {
					b.Fatalf("Load: %d records, %v", len(st.Records), err)
				}
			}
		})
	}
}

// openBenchStore returns a store of the kind holding benchRegistrations registrations.
func openBenchStore(b *testing.B, kind string) store.Store {
	s := store.NewMemory()
	if kind == "file" {
		s = mustOpen(b, b.TempDir())
	}
	for i := range benchRegistrations {
		r := benchRecord(i, 1)
		mustCommit(b, s, r.Name, 1, r)
	}
	return s
}

// benchRecord is version v of registration i, with a payload the size of a small descriptor set.
func benchRecord(i int, v uint64) store.Record {
	r := rec(fmt.Sprintf("shop.service%03d.v1.Service", i), v)
	r.Payload = bytes.Repeat(r.Payload, 8<<10/len(r.Payload))
	return r
}
