package jsonenc_test

import (
	"strings"
	"testing"

	"github.com/protogate/gateway/transcoder/jsonenc"
)

// benchStrings are typical strings of each shape: short and long plain ASCII, mixed text with
// non-ASCII letters and an escape or two, and text that is mostly escapes.
var benchStrings = []struct{ name, s string }{
	{"ascii-short", "Ada Lovelace"},
	{"ascii-long", strings.Repeat("The quick brown fox jumps over the lazy dog. ", 8)},
	{"mixed", `Grüße aus Köln — "quoted" café, naïve résumé, 東京 🚀` + "\n" + `path\to\file`},
	{"escape-heavy", strings.Repeat("\"\\\n\t\x01<>&", 16)},
}

func BenchmarkAppendString(b *testing.B) {
	for _, bs := range benchStrings {
		dst := make([]byte, 0, 6*len(bs.s)+2)
		sb := []byte(bs.s)
		b.Run(bs.name+"/string", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bs.s)))
			for b.Loop() {
				dst = jsonenc.AppendString(dst[:0], bs.s)
			}
		})
		b.Run(bs.name+"/bytes", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(sb)))
			for b.Loop() {
				dst = jsonenc.AppendString(dst[:0], sb)
			}
		})
		b.Run(bs.name+"/proto", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bs.s)))
			for b.Loop() {
				dst, _ = jsonenc.AppendProtoString(dst[:0], bs.s)
			}
		})
	}
}

func BenchmarkAppendScalars(b *testing.B) {
	dst := make([]byte, 0, 64)
	b.Run("float", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst = jsonenc.AppendFloat(dst[:0], 123456.789, 64)
		}
	})
	b.Run("timestamp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst, _ = jsonenc.AppendTimestamp(dst[:0], 1714566600, 500_000_000)
		}
	})
	b.Run("duration", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst, _ = jsonenc.AppendDuration(dst[:0], -90, -500_000_000)
		}
	})
}
