// Package testjwt gives tests JWT issuer keys: tokens signed with them, and their public keys
// written as a JSON Web Key Set file.
package testjwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/protogate/gateway/policies/auth"
)

// Key is an issuer's ES256 signing key and the kid its tokens name.
type Key struct {
	KID string
	key *ecdsa.PrivateKey
}

// NewKey returns a new key named kid.
func NewKey(t testing.TB, kid string) Key {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Key{KID: kid, key: k}
}

// Token returns a token of issuer for subject "ada", valid for an hour, signed by k.
func (k Key) Token(t testing.TB, issuer string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": issuer, "sub": "ada", "exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["kid"] = k.KID
	s, err := tok.SignedString(k.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// WriteKeySet writes the public keys of keys to path as a JSON Web Key Set.
func WriteKeySet(t testing.TB, path string, keys ...Key) {
	t.Helper()
	var pub []auth.PublicJWK
	for _, k := range keys {
		pub = append(pub, auth.PublicJWK{KID: k.KID, Alg: "ES256", Key: k.key.Public()})
	}
	data, err := auth.MarshalJWKS(pub...)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
