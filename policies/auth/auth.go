// Package auth authenticates callers (JWT, API keys, client certificates) and authorizes them per rule.
// STUB: the contract the policies package compiles against; the auth work fills it in.
package auth

import (
	"net/http"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// Authenticator holds the long-lived authentication state: JWKS key sets and their refreshers, the
// cache of verified tokens, the API key table.
type Authenticator struct{}

// New builds the authenticator for cfg.
func New(cfg config.Auth) (*Authenticator, error) { return &Authenticator{}, nil }

// Step compiles a rule's requirement; (nil, nil) when the rule requires nothing.
func (a *Authenticator) Step(rule config.RuleAuth) (policy.Step, error) { return nil, nil }

// IdentityHeaders are the metadata keys that carry a verified identity upstream. They are stripped
// from every call, authenticated or not, so a client cannot pretend to be someone.
func (a *Authenticator) IdentityHeaders() []string { return nil }

// AdminMiddleware guards the admin port's HTTP API with the admin credentials; nil when none are set.
func (a *Authenticator) AdminMiddleware() func(http.Handler) http.Handler { return nil }

// Close stops background refreshes.
func (a *Authenticator) Close() error { return nil }
