package auth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// Step compiles a rule's requirement; (nil, nil) when the rule requires nothing. The Step strips
// the identity metadata keys from the call, authenticates the caller with the credentials it
// finds — the Authorization header ("Bearer <jwt>" or "ApiKey <key>") or the API key header (a call
// carrying both is refused), else the verified client certificate — and checks the rule's scopes
// and claims. It is safe for concurrent use; the policy.Identity it records is shared between
// calls presenting the same token and must not be modified.
func (a *Authenticator) Step(rule config.RuleAuth) (policy.Step, error) {
	if !rule.IsSet() {
		return nil, nil
	}
	s := &step{a: a, anonymous: rule.AllowAnonymous}
	if len(rule.Providers) == 0 {
		s.jwt, s.apiKey, s.mtls = len(a.jwt.byName) > 0, a.keys.enabled(), a.mtls != nil
	}
	for _, name := range rule.Providers {
		switch p := a.jwt.byName[name]; {
		case p != nil:
			s.jwt = true
			s.jwtOnly = append(s.jwtOnly, p)
		case name == config.ProviderAPIKey && a.keys.enabled():
			s.apiKey = true
		case name == config.ProviderMTLS && a.mtls != nil:
			s.mtls = true
		default:
			return nil, fmt.Errorf("auth: unknown provider %q (known: %s)", name, strings.Join(a.cfg.Providers(), ", "))
		}
	}
	if !s.jwt && !s.apiKey && !s.mtls {
		return nil, fmt.Errorf("auth: no provider is configured (policies.auth: jwt, api_keys or mtls)")
	}
	if s.jwt && len(s.jwtOnly) == len(a.jwt.byName) {
		s.jwtOnly = nil // every provider: no check needed
	}
	s.den = newDenials(s.jwt, s.apiKey, s.mtls, a.keys.header)
	for _, sc := range rule.Scopes {
		s.scopes = append(s.scopes, scopeCheck{scope: sc, denial: scopeDenial(sc, s.jwt)})
	}
	for _, cm := range rule.Claims {
		s.claims = append(s.claims, claimCheck{path: strings.Split(cm.Claim, "."), value: cm.Value, denial: claimDenial(cm.Claim)})
	}
	return s, nil
}

type step struct {
	a                 *Authenticator
	anonymous         bool
	jwt, apiKey, mtls bool           // the kinds of credentials the rule accepts
	jwtOnly           []*jwtProvider // the JWT providers it accepts; nil for all
	den               *denials
	scopes            []scopeCheck
	claims            []claimCheck
}

type scopeCheck struct {
	scope  string
	denial *policy.Denial
}

type claimCheck struct {
	path   []string
	value  string
	denial *policy.Denial
}

// Admit authenticates and authorizes the call.
func (s *step) Admit(c *policy.Call) error {
	c.StripUpstream(s.a.idKeys.all...)
	id, upstream, why := s.authenticate(c)
	if why != 0 {
		return s.den.unauth[why]
	}
	if id == nil {
		return nil // anonymous, and allowed
	}
	for i := range s.scopes {
		if !slices.Contains(id.Scopes, s.scopes[i].scope) {
			return s.scopes[i].denial
		}
	}
	for i := range s.claims {
		if !claimMatches(lookupClaim(id.Claims, s.claims[i].path), s.claims[i].value) {
			return s.claims[i].denial
		}
	}
	c.Identity = id
	for i := 0; i+1 < len(upstream); i += 2 {
		c.SetUpstream(upstream[i], upstream[i+1])
	}
	return nil
}

// authenticate finds and verifies the call's credentials. It returns a nil identity and no reason
// for an anonymous caller the rule lets through.
func (s *step) authenticate(c *policy.Call) (*policy.Identity, []string, reason) {
	authz, twoAuthz := c.Credential("authorization")
	key, twoKeys := "", false
	if s.a.keys.enabled() {
		key, twoKeys = c.Credential(s.a.keys.header)
	}
	// Credentials sent twice, or in both places the gateway reads them from: it would verify one
	// while the upstream, which gets both, might read the other. Refused whatever they hold, valid
	// or not: picking one is what the upstream might not do.
	if twoAuthz || twoKeys || authz != "" && key != "" {
		return nil, nil, reasonAmbiguous
	}
	if authz != "" {
		scheme, cred, _ := strings.Cut(authz, " ")
		cred = strings.TrimSpace(cred)
		switch {
		case strings.EqualFold(scheme, "Bearer") && s.jwt:
			return s.bearer(c, cred)
		case strings.EqualFold(scheme, "ApiKey") && s.apiKey:
			return s.key(cred)
		case strings.EqualFold(scheme, "Bearer") && len(s.a.jwt.byName) > 0,
			strings.EqualFold(scheme, "ApiKey") && s.a.keys.enabled():
			return nil, nil, reasonProvider
		default:
			return nil, nil, reasonScheme
		}
	}
	if key != "" {
		if !s.apiKey {
			return nil, nil, reasonProvider
		}
		return s.key(key)
	}
	if s.mtls {
		if cert := leaf(c.Peer); cert != nil {
			id, upstream, ok := s.a.mtls.identify(cert)
			if !ok {
				return nil, nil, reasonCertificate
			}
			return id, upstream, 0
		}
	}
	if s.anonymous {
		return nil, nil, 0
	}
	return nil, nil, reasonMissing
}

func (s *step) bearer(c *policy.Call, token string) (*policy.Identity, []string, reason) {
	if token == "" {
		return nil, nil, reasonMalformed
	}
	v, why := s.a.jwt.verify(c.Ctx, token)
	if why != 0 {
		return nil, nil, why
	}
	if s.jwtOnly != nil && !slices.Contains(s.jwtOnly, v.prov) {
		return nil, nil, reasonProvider
	}
	return v.identity, v.upstream, 0
}

func (s *step) key(key string) (*policy.Identity, []string, reason) {
	e := s.a.keys.lookup(key)
	if e == nil {
		return nil, nil, reasonAPIKey
	}
	return e.identity, e.upstream, 0
}
