// Package waf inspects REST and GraphQL requests with Coraza and the OWASP Core Rule Set. STUB: the
// contract the policies package compiles against; the WAF work fills it in.
package waf

import (
	"log/slog"
	"net/http"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// Firewall is a loaded rule set (long-lived: loading the CRS takes time).
type Firewall struct{}

// New loads the firewall for cfg; nil when the WAF is off everywhere.
func New(cfg config.WAF, log *slog.Logger) (*Firewall, error) { return nil, nil }

// Middleware inspects requests of the REST and GraphQL fronts; mode returns the mode ("blocking",
// "detection", "off") for a request: the mode of the rule of the method it calls, or the default.
func (f *Firewall) Middleware(mode func(r *http.Request, front policy.Front) string) policy.Middleware {
	return nil
}
