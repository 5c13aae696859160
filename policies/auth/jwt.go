package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// jwtProvider is one trusted issuer.
type jwtProvider struct {
	name          string
	issuer        string
	algs          []string
	ring          *keyRing // nil with a shared secret
	secret        []byte
	refresh       time.Duration
	skew          time.Duration
	validator     *jwt.Validator
	consumerClaim string
	claimsMeta    []claimMeta
}

type claimMeta struct {
	path []string // the claim's dotted path, split
	key  string   // the metadata key
}

// verified is a token that passed verification, as the cache keeps it. It is shared by every call
// that presents the same token and never modified.
type verified struct {
	token    string
	expires  int64 // unix nanoseconds, clock skew included
	prov     *jwtProvider
	key      *publicKey // nil for HS256
	identity *policy.Identity
	upstream []string // metadata key, value pairs
}

// valid reports whether the cached verification still holds at now: the token has not expired and
// its key is still in the issuer's key set.
func (v *verified) valid(now int64) bool {
	if now >= v.expires {
		return false
	}
	return v.key == nil || v.prov.ring.set.Load().holds(v.key)
}

// jwtVerifier verifies tokens of any configured issuer.
type jwtVerifier struct {
	byIssuer map[string]*jwtProvider
	byName   map[string]*jwtProvider
	parser   *jwt.Parser
	cache    *tokenCache
	now      func() time.Time
	idKeys   identityKeys
}

func newJWTVerifier(cfg config.Auth, o *options, idKeys identityKeys) (*jwtVerifier, error) {
	v := &jwtVerifier{
		byIssuer: make(map[string]*jwtProvider, len(cfg.JWT)),
		byName:   make(map[string]*jwtProvider, len(cfg.JWT)),
		cache:    newTokenCache(cmpOr(cfg.TokenCacheSize, config.DefaultTokenCacheSize)),
		now:      o.now,
		idKeys:   idKeys,
	}
	var all []string
	for _, pc := range cfg.JWT {
		p, err := newJWTProvider(pc, o)
		if err != nil {
			return nil, fmt.Errorf("jwt provider %q: %w", pc.Name, err)
		}
		if _, dup := v.byIssuer[p.issuer]; dup {
			return nil, fmt.Errorf("jwt provider %q: issuer %q is also another provider's", pc.Name, p.issuer)
		}
		v.byIssuer[p.issuer] = p
		v.byName[p.name] = p
		for _, a := range p.algs {
			if !slices.Contains(all, a) {
				all = append(all, a)
			}
		}
	}
	v.parser = jwt.NewParser(jwt.WithValidMethods(all), jwt.WithoutClaimsValidation(), jwt.WithJSONNumber())
	return v, nil
}

func newJWTProvider(pc config.JWTProvider, o *options) (*jwtProvider, error) {
	p := &jwtProvider{
		name:          pc.Name,
		issuer:        pc.Issuer,
		algs:          pc.Algorithms,
		refresh:       cmpOr(pc.JWKSRefresh, config.DefaultJWKSRefresh),
		skew:          pc.Skew(),
		consumerClaim: cmpOr(pc.ConsumerClaim, config.DefaultConsumerClaim),
	}
	if pc.Name == "" || pc.Issuer == "" {
		return nil, errors.New("name and issuer are required")
	}
	if len(p.algs) == 0 {
		if pc.SecretFile != "" {
			p.algs = []string{"HS256"}
		} else {
			p.algs = config.JWTAlgorithms
		}
	}
	for _, a := range p.algs {
		switch {
		case a == "HS256" && pc.SecretFile == "":
			return nil, errors.New("HS256 needs a secret file")
		case a != "HS256" && pc.SecretFile != "":
			return nil, fmt.Errorf("%s with a secret file: a provider with a secret accepts only HS256", a)
		case a != "HS256" && !slices.Contains(config.JWTAlgorithms, a):
			return nil, fmt.Errorf("algorithm %q is not accepted", a)
		}
	}
	opts := []jwt.ParserOption{jwt.WithLeeway(p.skew), jwt.WithTimeFunc(o.now), jwt.WithIssuer(p.issuer), jwt.WithExpirationRequired()}
	if len(pc.Audiences) > 0 {
		opts = append(opts, jwt.WithAudience(pc.Audiences...))
	}
	p.validator = jwt.NewValidator(opts...)
	for _, cm := range pc.ClaimsToMetadata {
		p.claimsMeta = append(p.claimsMeta, claimMeta{path: strings.Split(cm.Claim, "."), key: strings.ToLower(cm.Metadata)})
	}
	switch {
	case pc.SecretFile != "":
		b, err := os.ReadFile(pc.SecretFile)
		if err != nil {
			return nil, err
		}
		b = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(b) < config.MinSecretBytes {
			return nil, fmt.Errorf("secret file %s: %d bytes, want at least %d", pc.SecretFile, len(b), config.MinSecretBytes)
		}
		p.secret = b
		return p, nil
	case pc.JWKS != "":
		p.ring = &keyRing{src: inlineSource(pc.JWKS)}
	case pc.JWKSFile != "":
		p.ring = &keyRing{src: fileSource(pc.JWKSFile)}
	case pc.JWKSURL != "":
		p.ring = &keyRing{src: urlSource{url: pc.JWKSURL, client: o.httpClient}}
	default:
		return nil, errors.New("no keys: set jwks, jwks_file, jwks_url or secret_file")
	}
	p.ring.minRefresh = cmpOr(pc.JWKSMinRefresh, config.DefaultJWKSMinRefresh)
	p.ring.now = o.now
	p.ring.onError = o.keyError
	return p, nil
}

// verify returns the verified token, from the cache when it is there, or why it is refused.
func (v *jwtVerifier) verify(ctx context.Context, token string) (*verified, reason) {
	now := v.now().UnixNano()
	if e := v.cache.get(token); e != nil {
		if e.valid(now) {
			return e, 0
		}
		v.cache.drop(token)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	var (
		prov *jwtProvider
		key  *publicKey
		why  reason
	)
	tok, err := v.parser.ParseWithClaims(token, jwt.MapClaims{}, func(t *jwt.Token) (any, error) {
		claims, _ := t.Claims.(jwt.MapClaims)
		iss, _ := claims["iss"].(string)
		if prov = v.byIssuer[iss]; prov == nil {
			why = reasonIssuer
			return nil, errRefused
		}
		alg := t.Method.Alg()
		if !slices.Contains(prov.algs, alg) {
			why = reasonAlgorithm
			return nil, errRefused
		}
		if prov.ring == nil {
			return prov.secret, nil
		}
		kid, _ := t.Header["kid"].(string)
		if key = prov.ring.lookup(ctx, kid, alg); key == nil {
			why = reasonKeyUnknown
			return nil, errRefused
		}
		return key.key, nil
	})
	switch {
	case why != 0:
		return nil, why
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, reasonMalformed
	case err != nil && prov == nil:
		return nil, reasonAlgorithm // refused before the key lookup: no provider accepts its "alg"
	case err != nil:
		return nil, reasonSignature
	}
	claims := tok.Claims.(jwt.MapClaims)
	if err := prov.validator.Validate(claims); err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			return nil, reasonExpired
		case errors.Is(err, jwt.ErrTokenNotValidYet):
			return nil, reasonNotYetValid
		case errors.Is(err, jwt.ErrTokenInvalidAudience),
			errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && claims["aud"] == nil: // audiences are configured
			return nil, reasonAudience
		case errors.Is(err, jwt.ErrTokenInvalidIssuer):
			return nil, reasonIssuer
		default:
			return nil, reasonClaims
		}
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, reasonClaims
	}
	e, why := v.identity(prov, claims)
	if why != 0 {
		return nil, why
	}
	e.token, e.prov, e.key = token, prov, key
	e.expires = exp.Add(prov.skew).UnixNano()
	v.cache.put(e, now)
	return e, 0
}

// errRefused stops golang-jwt's verification when the key function has already said why.
var errRefused = errors.New("refused")

// identity builds the identity and upstream metadata of a verified token.
func (v *jwtVerifier) identity(p *jwtProvider, claims jwt.MapClaims) (*verified, reason) {
	// The consumer is one string (RFC 7519's sub is a StringOrURI): a list would name several.
	consumer, ok := claims[p.consumerClaim].(string)
	if n, isNum := claims[p.consumerClaim].(json.Number); isNum {
		consumer, ok = n.String(), true
	}
	if !ok || consumer == "" || !validValue(consumer) {
		return nil, reasonClaims
	}
	id := &policy.Identity{
		Consumer: consumer,
		Method:   "jwt",
		Provider: p.name,
		Scopes:   tokenScopes(claims),
		Claims:   claims,
	}
	e := &verified{identity: id}
	e.upstream = v.idKeys.upstream(id)
	for _, cm := range p.claimsMeta {
		if s, ok := claimString(lookupClaim(claims, cm.path)); ok && validValue(s) {
			e.upstream = append(e.upstream, cm.key, s)
		}
	}
	return e, 0
}

// tokenScopes reads the "scope" (space-separated string) and "scp" (list or string) claims.
func tokenScopes(claims jwt.MapClaims) []string {
	var scopes []string
	add := func(s string) {
		if s != "" && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	for _, name := range []string{"scope", "scp"} {
		switch x := claims[name].(type) {
		case string:
			for _, s := range strings.Fields(x) {
				add(s)
			}
		case []any:
			for _, s := range x {
				if s, ok := s.(string); ok {
					add(s)
				}
			}
		}
	}
	return scopes
}

// lookupClaim follows a dotted path into the claims.
func lookupClaim(claims map[string]any, path []string) any {
	var cur any = claims
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// claimString formats a scalar claim as JSON writes it (strings unquoted); a list becomes its
// scalars joined with ",".
func claimString(x any) (string, bool) {
	switch x := x.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := claimString(e)
			if !ok {
				return "", false
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), true
	}
	return "", false
}

// claimMatches reports whether claim x has value want: equal as a scalar, or containing it as a list.
func claimMatches(x any, want string) bool {
	if list, ok := x.([]any); ok {
		for _, e := range list {
			if s, ok := claimString(e); ok && s == want {
				if _, nested := e.([]any); !nested {
					return true
				}
			}
		}
		return false
	}
	s, ok := claimString(x)
	return ok && s == want
}

// validValue reports whether s can be sent as a metadata value: printable ASCII.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// jwksFetchTimeout bounds a fetch of a key set from its URL with the default client, and the wait
// for the fetches at start, all made at once (Authenticator.fetchAtStart).
const jwksFetchTimeout = 10 * time.Second

// defaultHTTPClient fetches key sets.
func defaultHTTPClient() *http.Client { return &http.Client{Timeout: jwksFetchTimeout} }
