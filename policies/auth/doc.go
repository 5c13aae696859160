// Package auth authenticates callers and authorizes them per method, for every front alike.
//
// Callers prove who they are in one of three ways, each a provider rules can name:
//
//   - a JWT ("Authorization: Bearer <token>") from a configured issuer, verified with the keys of
//     the issuer's JSON Web Key Set (a file or a URL, fetched again on an interval and when a token
//     names a key id the set does not hold, at most once per jwks_min_refresh), or with a shared
//     secret for HS256 — only a provider configured with a secret file accepts HS256, and it accepts
//     nothing else, so a JWKS public key can never be abused as an HMAC secret;
//   - an API key ("x-api-key: <key>", or "Authorization: ApiKey <key>"), looked up by its SHA-256
//     digest: the gateway stores digests only;
//   - a client certificate verified by the TLS listener (tls.client_ca_file), its subject common
//     name or a subject alternative name naming the consumer.
//
// Data flow: New builds an Authenticator once for a configuration; it owns the long-lived state (key
// sets and their refreshers, the cache of verified tokens, the API key table) and must be closed.
// Step compiles a rule's requirement into a policy.Step, once per snapshot. On each call the Step
// reads the credentials from the call's metadata (or its peer, for certificates), verifies them,
// checks the rule's scopes and claims, records the policy.Identity on the call and sends the
// consumer, its scopes and the configured claims upstream as metadata — after stripping those keys
// from what the client sent. A refusal is a policy.Denial: UNAUTHENTICATED (HTTP 401 with
// WWW-Authenticate) or PERMISSION_DENIED (403), with a google.rpc.ErrorInfo detail whose reason
// (TOKEN_EXPIRED, SCOPE_MISSING, ...) says why, in domain "protogate". Tokens and keys are never
// logged nor echoed in errors.
//
// A verified token is cached, keyed by a seeded hash of the token and compared in full, until it
// expires or its key drops out of the issuer's key set, and the cache is bounded in size: a repeated
// token costs a hash and a map lookup instead of a signature verification (BenchmarkCachedJWT).
//
// # Why golang-jwt
//
// Tokens are parsed and verified with github.com/golang-jwt/jwt/v5 rather than lestrrat-go/jwx. It
// has no dependencies, does one thing (parse a compact JWS, verify it with the key a callback
// returns, validate registered claims) and lets the caller pin the accepted algorithms. The parts
// jwx would add — JWKS fetching, caching and refresh — are the parts a gateway has to control
// itself anyway: when to fetch (on an interval and on an unknown key id, rate-limited), what to keep
// when a fetch fails (the old keys), how a rotation invalidates cached verifications. jwx's cache
// brings its own background machinery and a dozen modules for that; the JWK parsing needed here
// (RSA, EC P-256/P-384, Ed25519 public keys) is a page of standard-library code in jwks.go.
package auth
