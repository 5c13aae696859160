package ratelimit

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/protogate/gateway/config"
)

// redisTLSConfig builds the TLS configuration towards Redis, nil when TLS is off. The files are
// read here, when the limiter is built (at start, and on a reload that changes the rate_limit
// section), so a bad file fails the build, never a decision.
//
// With no server_name, ServerName stays empty: crypto/tls then verifies each connection against
// the host it dialed, which is what a cluster's nodes and a Sentinel-named primary need, since
// every one has an address (and certificate) of its own.
func redisTLSConfig(t config.RedisTLS) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ratelimit: redis tls ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ratelimit: redis tls ca_file %s holds no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" || t.KeyFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("ratelimit: redis tls client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}
