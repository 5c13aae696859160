package auth_test

import (
	"testing"

	"github.com/protogate/gateway/config"
)

// BenchmarkCachedJWT is the cost of admitting a call with a token verified before: the hot path.
func BenchmarkCachedJWT(b *testing.B) {
	e := newEnv(b)
	s := e.step(b, config.RuleAuth{Scopes: []string{"orders:read"}})
	c := call(bearer(key("es").sign(b, e.claims()))...)
	if err := s.Admit(c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.Identity = nil
		if err := s.Admit(resetCall(c)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUncachedJWT is the cost of verifying a token the first time, per algorithm.
func BenchmarkUncachedJWT(b *testing.B) {
	for _, k := range []string{"rs", "es", "ed"} {
		b.Run(key(k).method.Alg(), func(b *testing.B) {
			e := newEnv(b, func(a *config.Auth) { a.TokenCacheSize = 1 })
			s := e.step(b, config.RuleAuth{Scopes: []string{"orders:read"}})
			toks := make([]string, 64)
			for i := range toks {
				toks[i] = key(k).sign(b, e.claims("jti", i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				// 64 distinct tokens through a cache of one: every call verifies a signature.
				if err := s.Admit(call(bearer(toks[i%len(toks)])...)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkAPIKey is the cost of admitting a call with an API key.
func BenchmarkAPIKey(b *testing.B) {
	e := newEnv(b)
	s := e.step(b, config.RuleAuth{Required: true})
	c := call("x-api-key", testAPIKey)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Admit(resetCall(c)); err != nil {
			b.Fatal(err)
		}
	}
}
