// Package sanitize bounds and normalizes what requests carry: body and header sizes, JSON depth and
// lengths, UTF-8, paths. STUB: the contract the policies package compiles against; the sanitization
// work fills it in.
package sanitize

import (
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// New compiles cfg into a middleware for the HTTP fronts; nil when nothing is limited.
func New(cfg config.Limits) (policy.Middleware, error) { return nil, nil }
