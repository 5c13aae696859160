package keys_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"os"
	"testing"

	"github.com/protogate/gateway/examples/keys"
	"github.com/protogate/gateway/policies/auth"
)

var update = flag.Bool("update", false, "rewrite jwks.json from demo-jwt.pem")

// TestDemoJWKS: jwks.json publishes the public half of demo-jwt.pem.
func TestDemoJWKS(t *testing.T) {
	block, _ := pem.Decode(keys.DemoPrivateKeyPEM)
	if block == nil {
		t.Fatal("demo-jwt.pem holds no PEM block")
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	want, err := auth.MarshalJWKS(auth.PublicJWK{KID: keys.DemoKeyID, Alg: "ES256", Key: priv.(crypto.Signer).Public()})
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile("jwks.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(keys.DemoJWKS, want) {
		t.Errorf("jwks.json does not publish demo-jwt.pem's public key (go test -update rewrites it):\n%s\nwant:\n%s", keys.DemoJWKS, want)
	}
}
