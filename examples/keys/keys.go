// Package keys holds the example shop's DEMO signing key for JWTs, and its public JSON Web Key Set.
//
// DEMO ONLY: the private key is published in this repository, so anyone can sign tokens with it.
// Never configure a gateway that guards anything real to trust it. `gateway demo` trusts it for the
// OrderService, and `gateway demo-token` signs tokens with it.
package keys

import _ "embed"

// The demo issuer's identity: what `gateway demo` checks and `gateway demo-token` writes.
const (
	DemoIssuer   = "https://demo.protogate.invalid"
	DemoAudience = "protogate-demo"
	DemoKeyID    = "demo-es256-1"
)

// DemoPrivateKeyPEM is the demo issuer's ES256 private key (PKCS #8, PEM). DEMO ONLY.
//
//go:embed demo-jwt.pem
var DemoPrivateKeyPEM []byte

// DemoJWKS is the demo issuer's public key set.
//
//go:embed jwks.json
var DemoJWKS []byte
