// Package cors answers browsers' cross-origin checks. STUB: the contract the policies package compiles
// against; the CORS work fills it in.
package cors

import (
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// New compiles cfg into a middleware; nil when CORS is not configured.
func New(cfg config.CORS) (policy.Middleware, error) { return nil, nil }
