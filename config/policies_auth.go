package config

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Auth configures the ways callers prove who they are: JWT providers, API keys, client certificates;
// which metadata keys carry the verified identity upstream; and the admin port's own credentials.
type Auth struct {
	// JWT are the token issuers the gateway trusts, each verified with its own keys.
	JWT []JWTProvider `yaml:"jwt"`
	// APIKeys are static keys, one consumer each, stored as SHA-256 digests.
	APIKeys APIKeys `yaml:"api_keys"`
	// MTLS authenticates callers by their verified client certificate; it needs tls.client_ca_file.
	MTLS MTLS `yaml:"mtls"`
	// Identity names the metadata keys that carry the verified identity upstream. They are stripped
	// from every incoming call, so a client cannot pretend to be someone.
	Identity IdentityKeys `yaml:"identity"`
	// TokenCacheSize bounds the cache of verified tokens (entries; each also expires with its
	// token). Default DefaultTokenCacheSize.
	TokenCacheSize int `yaml:"token_cache_size"`
	// Admin are the credentials the admin port's API requires. Default: none (the admin port is
	// open, and listens on loopback by default). /healthz, /readyz and /metrics stay open.
	Admin AdminAuth `yaml:"admin"`
}

// JWTProvider is one trusted token issuer.
type JWTProvider struct {
	// Name identifies the provider in rules (auth.providers), logs and the identity: required,
	// unique among jwt providers, [a-z0-9][a-z0-9_.-]*; "api_key" and "mtls" are taken.
	Name string `yaml:"name"`
	// Issuer is the exact "iss" tokens must carry. Required.
	Issuer string `yaml:"issuer"`
	// Audiences: a token's "aud" must name one of them. Default: "aud" is not checked.
	Audiences []string `yaml:"audiences"`
	// JWKS is the issuer's JSON Web Key Set, inline (a JSON string). Exactly one of jwks, jwks_file,
	// jwks_url and secret_file is set.
	JWKS string `yaml:"jwks"`
	// JWKSFile is a JSON Web Key Set file with the issuer's public keys, read again every
	// jwks_refresh and on every reload (one that does not parse then refuses the reload).
	JWKSFile string `yaml:"jwks_file"`
	// JWKSURL is where the issuer publishes its JSON Web Key Set (http or https). It is fetched at
	// start, every provider's at once and waited for 10s at most all told; one that cannot be
	// fetched then is logged, and the provider's tokens are refused until a fetch succeeds.
	JWKSURL string `yaml:"jwks_url"`
	// SecretFile holds the shared secret of HS256 tokens (its bytes, less a trailing newline; at
	// least 32 bytes), read at start and on every reload. Only a provider with a secret file
	// accepts HS256, and it accepts nothing else.
	SecretFile string `yaml:"secret_file"`
	// JWKSRefresh is how often the key set is fetched (or read) again; keys that drop out stop
	// verifying, new ones start. A token naming an unknown key id also triggers a fetch, at most
	// once per JWKSMinRefresh. Default DefaultJWKSRefresh.
	JWKSRefresh time.Duration `yaml:"jwks_refresh"`
	// JWKSMinRefresh rate-limits fetches triggered by unknown key ids. Default DefaultJWKSMinRefresh.
	JWKSMinRefresh time.Duration `yaml:"jwks_min_refresh"`
	// Algorithms the provider accepts: RS256, RS384, RS512, ES256, ES384, EdDSA; HS256 only with
	// secret_file. Default: the asymmetric ones with a JWKS, HS256 with a secret file.
	Algorithms []string `yaml:"algorithms"`
	// ClockSkew is the leeway on exp, nbf and iat; 0 allows none. Default (nil) DefaultClockSkew:
	// a pointer, so that a written 0 is told from a key left out. Skew reads it.
	ClockSkew *time.Duration `yaml:"clock_skew"`
	// ConsumerClaim names the claim that identifies the consumer. Default "sub".
	ConsumerClaim string `yaml:"consumer_claim"`
	// ClaimsToMetadata send chosen claims upstream as metadata.
	ClaimsToMetadata []ClaimMetadata `yaml:"claims_to_metadata"`
}

// Skew returns the leeway on exp, nbf and iat: ClockSkew, or DefaultClockSkew when it is unset.
func (p JWTProvider) Skew() time.Duration {
	if p.ClockSkew == nil {
		return DefaultClockSkew
	}
	return *p.ClockSkew
}

// ClaimMetadata sends a claim upstream under a metadata key.
type ClaimMetadata struct {
	// Claim is the claim's name; a dotted path reaches into objects ("realm.roles").
	Claim string `yaml:"claim"`
	// Metadata is the key it goes upstream as; Parse lower-cases it. It is stripped from every
	// incoming call.
	Metadata string `yaml:"metadata"`
}

// APIKeys is a table of static keys.
type APIKeys struct {
	// Header carries the key. Default "x-api-key". A key may also be sent as
	// "Authorization: ApiKey <key>".
	Header string `yaml:"header"`
	// Keys are the accepted keys.
	Keys []APIKey `yaml:"keys"`
}

// APIKey is one accepted key.
type APIKey struct {
	// Consumer is who the key identifies. Required.
	Consumer string `yaml:"consumer"`
	// SHA256 is the hex SHA-256 digest of the key (`printf %s "$KEY" | sha256sum`): the key itself
	// is never stored. Required, unique.
	SHA256 string `yaml:"sha256"`
	// Scopes are what the key grants, for rules that require scopes.
	Scopes []string `yaml:"scopes"`
}

// MTLS authenticates callers by their client certificate, verified against tls.client_ca_file.
type MTLS struct {
	// Enabled turns it on.
	Enabled bool `yaml:"enabled"`
	// ConsumerFrom is what names the consumer: "cn" (the subject's common name), "dns_san",
	// "uri_san" or "email_san" (the first subject alternative name of that kind). Default "cn".
	ConsumerFrom string `yaml:"consumer_from"`
	// Scopes are what every verified certificate grants.
	Scopes []string `yaml:"scopes"`
}

// IdentityKeys name the metadata keys of the verified identity. Parse lower-cases them.
type IdentityKeys struct {
	// Consumer carries the consumer's name. Default "x-consumer-id".
	Consumer string `yaml:"consumer"`
	// Scopes carries the granted scopes, space-separated. Default "x-consumer-scopes".
	Scopes string `yaml:"scopes"`
	// Strip are more keys to strip from incoming calls.
	Strip []string `yaml:"strip"`
}

// AdminAuth are the credentials of the admin port's API: any one of them admits.
type AdminAuth struct {
	// Tokens are accepted as "Authorization: Bearer <token>" (or in the api_keys header), stored
	// as SHA-256 digests.
	Tokens []AdminToken `yaml:"tokens"`
}

// AdminToken is one admin credential.
type AdminToken struct {
	// Name says whose token it is, for logs. Required.
	Name string `yaml:"name"`
	// SHA256 is the hex SHA-256 digest of the token. Required.
	SHA256 string `yaml:"sha256"`
}

// RuleAuth is a rule's authentication and authorization requirement. A rule sets the auth aspect
// when any field is set (IsSet).
type RuleAuth struct {
	// Required makes callers authenticate with any configured provider.
	Required bool `yaml:"required"`
	// Providers restricts which providers may vouch for the caller: jwt provider names, "api_key",
	// "mtls". Setting it implies required.
	Providers []string `yaml:"providers"`
	// Scopes must all be granted. Setting it implies required.
	Scopes []string `yaml:"scopes"`
	// Claims must all match exactly (a list claim matches when it contains the value). Setting it
	// implies required; only JWTs carry claims.
	Claims []ClaimMatch `yaml:"claims"`
	// AllowAnonymous lets callers without credentials through, anonymously: a method made public
	// ahead of a general rule. Credentials that are sent are still verified (an invalid token is
	// refused, not ignored) and a verified identity still goes upstream.
	AllowAnonymous bool `yaml:"allow_anonymous"`
}

// ClaimMatch requires a claim to have a value.
type ClaimMatch struct {
	// Claim is the claim's name; a dotted path reaches into objects.
	Claim string `yaml:"claim"`
	// Value is the exact value (numbers and booleans as written in JSON).
	Value string `yaml:"value"`
}

// IsSet reports whether the rule says anything about authentication, so that it decides the auth
// aspect of the methods it matches.
func (r RuleAuth) IsSet() bool {
	return r.Required || r.AllowAnonymous || len(r.Providers) > 0 || len(r.Scopes) > 0 || len(r.Claims) > 0
}

// Authenticates reports whether the rule requires callers to be authenticated.
func (r RuleAuth) Authenticates() bool { return r.IsSet() && !r.AllowAnonymous }

// Provider names other than JWT providers'.
const (
	ProviderAPIKey = "api_key"
	ProviderMTLS   = "mtls"
)

// Auth defaults.
const (
	DefaultTokenCacheSize  = 10000
	DefaultJWKSRefresh     = 5 * time.Minute
	DefaultJWKSMinRefresh  = 10 * time.Second
	DefaultClockSkew       = 30 * time.Second
	DefaultConsumerClaim   = "sub"
	DefaultAPIKeyHeader    = "x-api-key"
	DefaultConsumerKey     = "x-consumer-id"
	DefaultScopesKey       = "x-consumer-scopes"
	DefaultMTLSConsumer    = "cn"
	maxTokenCacheSize      = 1 << 24
	sha256HexLen           = 64
	minJWKSMinRefresh      = 100 * time.Millisecond
	defaultAsymmetricNames = "RS256, RS384, RS512, ES256, ES384, EdDSA"
)

// MinSecretBytes is the shortest HS256 secret a secret_file may hold (trailing newlines aside):
// 256 bits, the size of the HMAC's hash.
const MinSecretBytes = 32

// JWTAlgorithms are the algorithms a JWKS provider may accept.
var JWTAlgorithms = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"}

// MTLSConsumerSources are the values of mtls.consumer_from.
var MTLSConsumerSources = []string{"cn", "dns_san", "uri_san", "email_san"}

// Providers returns the names rules may list in auth.providers, in order: the jwt providers', then
// "api_key" when keys are configured, then "mtls" when enabled.
func (a Auth) Providers() []string {
	var names []string
	for _, p := range a.JWT {
		if p.Name != "" && !oneOf(p.Name, names) {
			names = append(names, p.Name)
		}
	}
	if len(a.APIKeys.Keys) > 0 && !oneOf(ProviderAPIKey, names) {
		names = append(names, ProviderAPIKey)
	}
	if a.MTLS.Enabled && !oneOf(ProviderMTLS, names) {
		names = append(names, ProviderMTLS)
	}
	return names
}

// authConfig checks policies.auth.
func (v *validator) authConfig(path string, a Auth, tls ServerTLS) {
	names := map[string]string{ProviderAPIKey: "", ProviderMTLS: ""}
	metadataKeys := map[string]string{}
	identity := field(path, "identity")
	for _, k := range []struct{ key, value, def string }{
		{"consumer", a.Identity.Consumer, DefaultConsumerKey},
		{"scopes", a.Identity.Scopes, DefaultScopesKey},
	} {
		if k.value == "" && !v.has(field(identity, k.key)) {
			metadataKeys[k.def] = field(identity, k.key)
			continue
		}
		v.metadataKey(field(identity, k.key), k.value, metadataKeys)
	}
	for i, k := range a.Identity.Strip {
		v.metadataKey(index(field(identity, "strip"), i), k, nil)
	}
	issuers := map[string]string{} // issuer -> the path of the provider that has it
	for i, p := range a.JWT {
		pp := index(field(path, "jwt"), i)
		v.jwtProvider(pp, p, names, metadataKeys)
		if prev, dup := issuers[p.Issuer]; dup && p.Issuer != "" {
			// A token names its issuer, which picks the provider that verifies it: one each.
			v.fieldf(field(pp, "issuer"), "issuer %q is also that of %s (line %d): a token's iss must pick one provider", p.Issuer, prev, v.line(field(prev, "issuer")))
		} else {
			issuers[p.Issuer] = pp
		}
	}
	v.apiKeys(field(path, "api_keys"), a.APIKeys)
	m := field(path, "mtls")
	if a.MTLS.ConsumerFrom != "" && !oneOf(a.MTLS.ConsumerFrom, MTLSConsumerSources) {
		v.fieldf(field(m, "consumer_from"), "unknown source %q: want one of %s", a.MTLS.ConsumerFrom, strings.Join(MTLSConsumerSources, ", "))
	}
	if a.MTLS.Enabled && tls.ClientCAFile == "" {
		v.fieldf(field(m, "enabled"), "needs tls.client_ca_file: client certificates are requested and verified only then")
	}
	v.scopes(field(m, "scopes"), a.MTLS.Scopes)
	if n := a.TokenCacheSize; n < 0 || n > maxTokenCacheSize || n == 0 && v.has(field(path, "token_cache_size")) {
		v.fieldf(field(path, "token_cache_size"), "want a number in 1..%d, got %d", maxTokenCacheSize, n)
	}
	admin := field(path, "admin.tokens")
	seen := map[string]string{}
	for i, t := range a.Admin.Tokens {
		p := index(admin, i)
		v.nonEmptyRequired(field(p, "name"), t.Name)
		v.digest(field(p, "sha256"), t.SHA256, seen)
	}
}

// jwtProvider checks one policies.auth.jwt entry.
func (v *validator) jwtProvider(path string, p JWTProvider, names, metadataKeys map[string]string) {
	if p.Name == ProviderAPIKey || p.Name == ProviderMTLS {
		v.fieldf(field(path, "name"), "%q is reserved for the built-in provider", p.Name)
	} else {
		v.name(field(path, "name"), p.Name, "jwt provider", names)
	}
	v.nonEmptyRequired(field(path, "issuer"), p.Issuer)
	for i, aud := range p.Audiences {
		if aud == "" {
			v.fieldf(index(field(path, "audiences"), i), "must not be empty")
		}
	}
	v.exactlyOne(path, []string{"jwks", "jwks_file", "jwks_url", "secret_file"},
		[]bool{p.JWKS != "", p.JWKSFile != "", p.JWKSURL != "", p.SecretFile != ""})
	if p.JWKS != "" {
		if what := keySetProblem([]byte(p.JWKS)); what != "" {
			v.fieldf(field(path, "jwks"), "%s: want a JSON Web Key Set, {\"keys\": [...]}", what)
		}
	}
	// The files are read as the gateway reads them at start, so that one it would refuse fails here,
	// at its line, rather than the start.
	if data, ok := v.readFile(field(path, "jwks_file"), p.JWKSFile); ok {
		if what := keySetProblem(data); what != "" {
			v.fieldf(field(path, "jwks_file"), "%q: %s: want a JSON Web Key Set, {\"keys\": [...]}", p.JWKSFile, what)
		}
	}
	if data, ok := v.readFile(field(path, "secret_file"), p.SecretFile); ok {
		if n := len(strings.TrimRight(string(data), "\r\n")); n < MinSecretBytes {
			v.fieldf(field(path, "secret_file"), "%q holds a secret of %d bytes, want at least %d", p.SecretFile, n, MinSecretBytes)
		}
	}
	if p.JWKSURL != "" {
		u, err := url.Parse(p.JWKSURL)
		switch {
		case err != nil:
			v.fieldf(field(path, "jwks_url"), "%v", unwrapURL(err))
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			v.fieldf(field(path, "jwks_url"), "want an http:// or https:// URL, got %q", p.JWKSURL)
		}
	}
	v.positive(field(path, "jwks_refresh"), p.JWKSRefresh)
	if d := p.JWKSMinRefresh; d < 0 || d < minJWKSMinRefresh && v.has(field(path, "jwks_min_refresh")) {
		v.fieldf(field(path, "jwks_min_refresh"), "want at least %s, got %s", minJWKSMinRefresh, d)
	}
	if d := p.Skew(); d < 0 {
		v.fieldf(field(path, "clock_skew"), "want a duration of 0 or more, got %s", d)
	}
	v.nonEmpty(field(path, "consumer_claim"), p.ConsumerClaim)
	for i, alg := range p.Algorithms {
		ap := index(field(path, "algorithms"), i)
		switch {
		case alg == "HS256" && p.SecretFile == "":
			v.fieldf(ap, "HS256 needs secret_file: the public keys of a JWKS must never verify HMAC tokens")
		case alg != "HS256" && p.SecretFile != "":
			if oneOf(alg, JWTAlgorithms) {
				v.fieldf(ap, "%s needs a JWKS: a provider with secret_file accepts only HS256", alg)
			} else {
				v.fieldf(ap, "unknown algorithm %q: want HS256 with secret_file", alg)
			}
		case alg == "none":
			v.fieldf(ap, `"none" is never accepted: tokens must be signed`)
		case alg != "HS256" && !oneOf(alg, JWTAlgorithms):
			v.fieldf(ap, "unknown algorithm %q: want one of %s", alg, defaultAsymmetricNames)
		}
	}
	for i, cm := range p.ClaimsToMetadata {
		cp := index(field(path, "claims_to_metadata"), i)
		v.nonEmptyRequired(field(cp, "claim"), cm.Claim)
		v.metadataKey(field(cp, "metadata"), cm.Metadata, metadataKeys)
	}
}

// keySetProblem says what keeps data from being a JSON Web Key Set, "" when nothing does: it is
// JSON, an object with a "keys" list. Whether the gateway can use the keys in it is the auth
// policy's to tell (which ones it skips, and which make the set an error).
func keySetProblem(data []byte) string {
	if !json.Valid(data) {
		return "not JSON"
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if json.Unmarshal(data, &set) != nil || set.Keys == nil {
		return `no "keys" list`
	}
	return ""
}

// apiKeys checks policies.auth.api_keys.
func (v *validator) apiKeys(path string, k APIKeys) {
	if strings.EqualFold(k.Header, "authorization") {
		v.fieldf(field(path, "header"), `keys are always accepted as "Authorization: ApiKey <key>"; name another header`)
	} else if k.Header != "" || v.has(field(path, "header")) {
		v.metadataKey(field(path, "header"), k.Header, nil)
	}
	seen := map[string]string{}
	for i, key := range k.Keys {
		p := index(field(path, "keys"), i)
		v.nonEmptyRequired(field(p, "consumer"), key.Consumer)
		v.digest(field(p, "sha256"), key.SHA256, seen)
		v.scopes(field(p, "scopes"), key.Scopes)
	}
}

// ruleAuth checks a rule's auth requirement against the configured providers.
func (v *validator) ruleAuth(path string, r RuleAuth, a Auth) {
	if !r.Required && v.has(field(path, "required")) && !r.IsSet() {
		v.fieldf(field(path, "required"), "false sets nothing: to make methods public ahead of a general rule, write allow_anonymous: true")
	}
	if r.Authenticates() || r.AllowAnonymous {
		if known := a.Providers(); len(known) == 0 {
			v.fieldf(path, "no auth providers are configured (policies.auth: jwt, api_keys or mtls)")
			return
		}
	}
	known := a.Providers()
	for i, p := range r.Providers {
		if !oneOf(p, known) {
			v.fieldf(index(field(path, "providers"), i), "unknown provider %q (known: %s)", p, strings.Join(known, ", "))
		}
	}
	if r.AllowAnonymous && (len(r.Scopes) > 0 || len(r.Claims) > 0) {
		v.fieldf(field(path, "allow_anonymous"), "contradicts scopes and claims: anonymous callers have neither")
	}
	v.scopes(field(path, "scopes"), r.Scopes)
	for i, c := range r.Claims {
		cp := index(field(path, "claims"), i)
		v.nonEmptyRequired(field(cp, "claim"), c.Claim)
	}
}

// scopes checks a list of scopes: no empty ones, none with spaces.
func (v *validator) scopes(path string, scopes []string) {
	for i, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			v.fieldf(index(path, i), "invalid scope %q: want a non-empty word without spaces, quotes or backslashes", s)
		}
	}
}

// metadataKey checks a metadata key: valid, not reserved, and unique among those in seen (when not nil).
func (v *validator) metadataKey(path, key string, seen map[string]string) {
	if key == "" {
		if v.has(path) {
			v.fieldf(path, "must not be empty")
		} else if strings.HasSuffix(path, ".metadata") {
			v.fieldf(path, "required")
		}
		return
	}
	k := strings.ToLower(key)
	switch {
	case !validMetadataKey(k):
		v.fieldf(path, "invalid metadata key %q: want lower-case letters, digits, '-', '_' and '.'", key)
	case strings.HasPrefix(k, "grpc-") || k == "authorization" || k == "content-type" || k == "te" || k == "user-agent":
		v.fieldf(path, "%q is reserved", key)
	case seen != nil:
		if prev, dup := seen[k]; dup {
			v.fieldf(path, "metadata key %q is already used by %s", k, prev)
			return
		}
		seen[k] = path
	}
}

// validMetadataKey reports whether k may name gRPC metadata (and an HTTP header).
func validMetadataKey(k string) bool {
	if strings.HasSuffix(k, "-bin") {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// digest checks a hex SHA-256 digest field, unique among those in seen.
func (v *validator) digest(path, hexDigest string, seen map[string]string) {
	if hexDigest == "" {
		v.fieldf(path, "required: the hex SHA-256 of the secret (printf %%s \"$KEY\" | sha256sum)")
		return
	}
	if _, err := hex.DecodeString(hexDigest); err != nil || len(hexDigest) != sha256HexLen {
		v.fieldf(path, "want %d hex digits (a SHA-256 digest), got %d characters", sha256HexLen, len(hexDigest))
		return
	}
	k := strings.ToLower(hexDigest)
	if prev, dup := seen[k]; dup {
		v.fieldf(path, "duplicate digest (first at line %d)", v.line(prev))
		return
	}
	seen[k] = path
}

// nonEmptyRequired checks a required string field.
func (v *validator) nonEmptyRequired(path, s string) {
	if s == "" {
		v.fieldf(path, "required")
	}
}

func unwrapURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// resolvePaths makes the auth files absolute.
func (a *Auth) resolvePaths(resolve func(*string)) {
	for i := range a.JWT {
		resolve(&a.JWT[i].JWKSFile)
		resolve(&a.JWT[i].SecretFile)
	}
}

// complete fills the auth defaults.
func (a *Auth) complete() {
	for i := range a.JWT {
		p := &a.JWT[i]
		setDefault(&p.JWKSRefresh, DefaultJWKSRefresh)
		setDefault(&p.JWKSMinRefresh, DefaultJWKSMinRefresh)
		setDefault(&p.ConsumerClaim, DefaultConsumerClaim)
		if len(p.Algorithms) == 0 {
			if p.SecretFile != "" {
				p.Algorithms = []string{"HS256"}
			} else {
				p.Algorithms = append([]string(nil), JWTAlgorithms...)
			}
		}
		for j := range p.ClaimsToMetadata {
			p.ClaimsToMetadata[j].Metadata = strings.ToLower(p.ClaimsToMetadata[j].Metadata)
		}
	}
	setDefault(&a.APIKeys.Header, DefaultAPIKeyHeader)
	a.APIKeys.Header = strings.ToLower(a.APIKeys.Header)
	for i := range a.APIKeys.Keys {
		a.APIKeys.Keys[i].SHA256 = strings.ToLower(a.APIKeys.Keys[i].SHA256)
	}
	for i := range a.Admin.Tokens {
		a.Admin.Tokens[i].SHA256 = strings.ToLower(a.Admin.Tokens[i].SHA256)
	}
	setDefault(&a.MTLS.ConsumerFrom, DefaultMTLSConsumer)
	setDefault(&a.Identity.Consumer, DefaultConsumerKey)
	setDefault(&a.Identity.Scopes, DefaultScopesKey)
	a.Identity.Consumer = strings.ToLower(a.Identity.Consumer)
	a.Identity.Scopes = strings.ToLower(a.Identity.Scopes)
	for i := range a.Identity.Strip {
		a.Identity.Strip[i] = strings.ToLower(a.Identity.Strip[i])
	}
	setDefault(&a.TokenCacheSize, DefaultTokenCacheSize)
}

// summary describes the auth section and the rules' auth requirements, when there are any.
func (a Auth) summary(s *summary, rules []PolicyRule) {
	if len(a.JWT) == 0 && len(a.APIKeys.Keys) == 0 && !a.MTLS.Enabled && len(a.Admin.Tokens) == 0 {
		return
	}
	s.WriteByte('\n')
	defer func() {
		for _, r := range rules {
			if line := r.Auth.summary(); line != "" {
				s.line(1, "rule %s (%s): %s", r.Name, authMatchText(r.Match), line)
			}
		}
	}()
	s.line(0, "auth identity consumer %s, scopes %s, token_cache_size %d", a.Identity.Consumer, a.Identity.Scopes, a.TokenCacheSize)
	if len(a.Identity.Strip) > 0 {
		s.line(1, "strip %s", strings.Join(a.Identity.Strip, ", "))
	}
	for _, p := range a.JWT {
		s.line(1, "jwt %s issuer %s", p.Name, p.Issuer)
		switch {
		case p.JWKS != "":
			s.line(2, "jwks inline (%d bytes)", len(p.JWKS))
		case p.JWKSFile != "":
			s.line(2, "jwks_file %s refresh %s min_refresh %s", printable(p.JWKSFile), p.JWKSRefresh, p.JWKSMinRefresh)
		case p.JWKSURL != "":
			s.line(2, "jwks_url %s refresh %s min_refresh %s", printable(p.JWKSURL), p.JWKSRefresh, p.JWKSMinRefresh)
		default:
			s.line(2, "secret_file %s", printable(p.SecretFile))
		}
		if len(p.Audiences) > 0 {
			s.line(2, "audiences %s", strings.Join(p.Audiences, ", "))
		}
		s.line(2, "algorithms %s, clock_skew %s, consumer_claim %s", strings.Join(p.Algorithms, ", "), p.Skew(), p.ConsumerClaim)
		for _, cm := range p.ClaimsToMetadata {
			s.line(2, "claim %s -> %s", cm.Claim, cm.Metadata)
		}
	}
	if n := len(a.APIKeys.Keys); n > 0 {
		s.line(1, "api_keys header %s, %d keys", a.APIKeys.Header, n)
		for _, k := range a.APIKeys.Keys {
			s.line(2, "consumer %s sha256 %s...%s", k.Consumer, k.SHA256[:min(8, len(k.SHA256))], scopeList(k.Scopes))
		}
	}
	if a.MTLS.Enabled {
		s.line(1, "mtls consumer_from %s%s", a.MTLS.ConsumerFrom, scopeList(a.MTLS.Scopes))
	}
	if n := len(a.Admin.Tokens); n > 0 {
		s.line(1, "admin %d tokens", n)
	}
}

// ruleSummary describes a rule's auth requirement.
func (r RuleAuth) summary() string {
	if !r.IsSet() {
		return ""
	}
	var parts []string
	if r.AllowAnonymous {
		parts = append(parts, "anonymous allowed")
	} else {
		parts = append(parts, "required")
	}
	if len(r.Providers) > 0 {
		parts = append(parts, "providers "+strings.Join(r.Providers, ", "))
	}
	if len(r.Scopes) > 0 {
		parts = append(parts, "scopes "+strings.Join(r.Scopes, ", "))
	}
	for _, c := range r.Claims {
		parts = append(parts, fmt.Sprintf("claim %s=%q", c.Claim, c.Value))
	}
	return "auth " + strings.Join(parts, "; ")
}

func authMatchText(m PolicyMatch) string {
	switch {
	case m.Method != "":
		return "method " + m.Method
	case m.Service != "":
		return "service " + m.Service
	default:
		return "prefix " + m.Prefix
	}
}

func scopeList(scopes []string) string {
	if len(scopes) == 0 {
		return ""
	}
	return " scopes " + strings.Join(scopes, ", ")
}
