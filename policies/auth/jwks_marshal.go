package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// PublicJWK is a public key to publish in a JSON Web Key Set.
type PublicJWK struct {
	// KID is the key id tokens name in their "kid" header.
	KID string
	// Alg, when set, is the only algorithm the key verifies (RS256, ES256, EdDSA, ...).
	Alg string
	// Key is an *rsa.PublicKey, an *ecdsa.PublicKey (P-256 or P-384) or an ed25519.PublicKey.
	Key crypto.PublicKey
}

// MarshalJWKS writes keys as a JSON Web Key Set, as an issuer publishes it: the format jwks_file
// and jwks_url read.
func MarshalJWKS(keys ...PublicJWK) ([]byte, error) {
	out := struct {
		Keys []jwkJSON `json:"keys"`
	}{Keys: []jwkJSON{}}
	b64 := base64.RawURLEncoding.EncodeToString
	for _, k := range keys {
		j := jwkJSON{Kid: k.KID, Alg: k.Alg, Use: "sig"}
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			j.Kty, j.N, j.E = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
		case *ecdsa.PublicKey:
			raw, err := pub.Bytes()
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k.KID, err)
			}
			size := (len(raw) - 1) / 2
			j.Kty, j.Crv, j.X, j.Y = "EC", pub.Curve.Params().Name, b64(raw[1:1+size]), b64(raw[1+size:])
		case ed25519.PublicKey:
			j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64(pub)
		default:
			return nil, fmt.Errorf("key %q: unsupported key type %T", k.KID, k.Key)
		}
		out.Keys = append(out.Keys, j)
	}
	return json.MarshalIndent(out, "", "  ")
}
