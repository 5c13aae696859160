package auth

import (
	"strconv"
	"testing"
	"time"
)

// FuzzParseJWKS: a key set from the network never panics the parser, and whatever it accepts
// holds only keys that fit their declared algorithm.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"3L8UOUBiCNsrxBX19JaxYDXuImJ3nArlmQeLfyaS__0","y":"3JHmPyEMm1yGuUQbjg2KegbRkJoTid6ueN_r0tETH9M","kid":"a","alg":"ES256"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-384","x":"","y":"","use":"enc"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := parseJWKS(data)
		if err != nil {
			return
		}
		for kid, k := range set.byKID {
			if k.kid != kid || k.key == nil || k.alg != "" && !k.fits(k.alg) {
				t.Fatalf("key %q: %+v", kid, k)
			}
		}
	})
}

// TestTokenCacheBounded: the cache never holds more than its size, and expired entries go first.
func TestTokenCacheBounded(t *testing.T) {
	const size = 64
	c := newTokenCache(size)
	now := time.Now().UnixNano()
	for i := range 10 * size {
		c.put(&verified{token: "t" + strconv.Itoa(i), expires: now + int64(time.Hour)}, now)
		if n := c.len(); n > size+cacheShards {
			t.Fatalf("after %d puts the cache holds %d entries, more than %d", i+1, n, size+cacheShards)
		}
	}
	v := &verified{token: "kept", expires: now + int64(time.Hour)}
	c.put(v, now)
	if c.get("kept") != v {
		t.Fatal("the latest entry is not in the cache")
	}
	if c.get("kept2") != nil {
		t.Fatal("get of an absent token returned an entry")
	}
	c.drop("kept")
	if c.get("kept") != nil {
		t.Fatal("drop left the entry")
	}
}
