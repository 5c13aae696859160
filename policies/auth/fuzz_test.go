package auth_test

import (
	"errors"
	"testing"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// FuzzAdmit feeds arbitrary Authorization and API key headers to a Step: it never panics, admits
// only with an identity, and refuses only with a policy.Denial.
func FuzzAdmit(f *testing.F) {
	e := newEnv(f)
	s := e.step(f, config.RuleAuth{Scopes: []string{"orders:read"}})
	valid := key("es").sign(f, e.claims())
	for _, seed := range []string{
		"Bearer " + valid, "Bearer " + valid[:len(valid)-3], "bearer  x.y.z", "Bearer", "Basic YTpi",
		"ApiKey " + testAPIKey, "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer ..", "Bearer a.b.c.d",
		"Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6eyJhIjoxfX0.e30.AAAA",
	} {
		f.Add(seed, "")
	}
	f.Add("", testAPIKey)
	f.Add("", "\x00")
	f.Fuzz(func(t *testing.T, authorization, apiKey string) {
		var h []string
		if authorization != "" {
			h = append(h, "authorization", authorization)
		}
		if apiKey != "" {
			h = append(h, "x-api-key", apiKey)
		}
		c := call(h...)
		err := s.Admit(c)
		if err == nil {
			if c.Identity == nil {
				t.Fatal("admitted without an identity")
			}
			return
		}
		var d *policy.Denial
		if !errors.As(err, &d) {
			t.Fatalf("refusal %T is not a Denial", err)
		}
	})
}
