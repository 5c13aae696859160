package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// The data port's TLS material is loaded by the same two functions when the configuration is
// validated and when the gateway starts, so that what `gateway validate` and a reload accept, serve
// accepts too.

// KeyPair loads the certificate chain and private key that the data port serves.
func (t ServerTLS) KeyPair() (tls.Certificate, error) {
	return tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
}

// ClientCAs loads the PEM roots that verify client certificates; nil when ClientCAFile is not set.
func (t ServerTLS) ClientCAs() (*x509.CertPool, error) {
	if t.ClientCAFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(t.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read %q: %w", t.ClientCAFile, unwrapPath(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%q holds no PEM certificate", t.ClientCAFile)
	}
	return pool, nil
}

// serverTLS loads the tls section's key pair and client CA roots as the gateway does at start, once
// the fields that name them have no problem of their own (a file missing, a key without its
// certificate).
func (v *validator) serverTLS(t ServerTLS) {
	if t.Enabled() && !v.blamed["tls.cert_file"] && !v.blamed["tls.key_file"] {
		if _, err := t.KeyPair(); err != nil {
			var read *fs.PathError
			switch {
			case errors.As(err, &read) && read.Path == t.KeyFile:
				v.fieldf("tls.key_file", "cannot read %q: %v", t.KeyFile, read.Err)
			case errors.As(err, &read):
				v.fieldf("tls.cert_file", "cannot read %q: %v", t.CertFile, read.Err)
			default:
				v.fieldf("tls.cert_file", "%q and key_file %q are not a certificate and its key: %v", t.CertFile, t.KeyFile, err)
			}
		}
	}
	if t.ClientCAFile != "" && !v.blamed["tls.client_ca_file"] {
		if _, err := t.ClientCAs(); err != nil {
			v.fieldf("tls.client_ca_file", "%v", err)
		}
	}
}
