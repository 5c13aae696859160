package demo

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/keys"
)

// DemoProvider names the demo's JWT provider in rules and identities.
const DemoProvider = "demo"

// demoAuth makes the OrderService require a JWT with scope orders:read, signed by the demo key
// (examples/keys, embedded: the demo needs no files). `gateway demo-token` prints such a token.
func demoAuth(p *config.Policies) {
	p.Auth.JWT = append(p.Auth.JWT, config.JWTProvider{
		Name:      DemoProvider,
		Issuer:    keys.DemoIssuer,
		Audiences: []string{keys.DemoAudience},
		JWKS:      string(keys.DemoJWKS),
	})
	p.Rules = append(p.Rules, config.PolicyRule{
		Name:  "orders-need-a-token",
		Match: config.PolicyMatch{Service: "shop.orders.v1.OrderService"},
		Auth:  config.RuleAuth{Providers: []string{DemoProvider}, Scopes: []string{"orders:read"}},
	})
}

// Token returns a token the demo accepts: subject sub, the given scopes, valid for ttl from now,
// signed with the DEMO key.
func Token(sub string, scopes []string, ttl time.Duration, now time.Time) (string, error) {
	if sub == "" {
		return "", errors.New("a subject is required")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("ttl %s: want a positive duration", ttl)
	}
	block, _ := pem.Decode(keys.DemoPrivateKeyPEM)
	if block == nil {
		return "", errors.New("demo key: no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("demo key: %w", err)
	}
	claims := jwt.MapClaims{
		"iss": keys.DemoIssuer,
		"aud": keys.DemoAudience,
		"sub": sub,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	}
	if len(scopes) > 0 {
		claims["scope"] = strings.Join(scopes, " ")
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = keys.DemoKeyID
	return tok.SignedString(key.(crypto.Signer))
}
