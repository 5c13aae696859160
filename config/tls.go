package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
)

// TLS material is loaded by the same functions when the configuration is validated and when the
// gateway uses it (the data port's at start, the clusters' whenever a snapshot is built from the
// configuration), so that what `gateway validate` and a reload accept, serve accepts too.

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

// RootCAs loads the PEM roots that verify a cluster's endpoints, in file order; nil when CAFile is
// not set, which means the system roots. Blocks other than CERTIFICATE are skipped; a certificate
// that does not parse is an error, as is a file with no certificate.
func (t ClusterTLS) RootCAs() ([]*x509.Certificate, error) {
	if t.CAFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read %q: %w", t.CAFile, unwrapPath(err))
	}
	var roots []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%q: certificate %d does not parse: %w", t.CAFile, len(roots)+1, err)
		}
		roots = append(roots, cert)
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("%q holds no PEM certificate", t.CAFile)
	}
	return roots, nil
}

// ClientCertificate loads the client certificate and key presented to a cluster's endpoints; nil
// when CertFile is not set.
func (t ClusterTLS) ClientCertificate() (*tls.Certificate, error) {
	if t.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, err
	}
	return &cert, nil
}

// serverTLS loads the tls section's key pair and client CA roots as the gateway does at start, once
// the fields that name them have no problem of their own (a file missing, a key without its
// certificate).
func (v *validator) serverTLS(t ServerTLS) {
	if t.Enabled() && !v.blamed["tls.cert_file"] && !v.blamed["tls.key_file"] {
		if _, err := t.KeyPair(); err != nil {
			v.keyPair("tls", t.CertFile, t.KeyFile, err)
		}
	}
	if t.ClientCAFile != "" && !v.blamed["tls.client_ca_file"] {
		if _, err := t.ClientCAs(); err != nil {
			v.fieldf("tls.client_ca_file", "%v", err)
		}
	}
}

// clusterTLS checks TLS towards a cluster's endpoints: the other fields only with enabled, a client
// certificate with its key, and files that exist and load as they will when a snapshot is built,
// so that a wrong file is reported here, with its line, rather than by the first connection.
func (v *validator) clusterTLS(path string, t ClusterTLS) {
	if !t.Enabled {
		for _, o := range []struct {
			key string
			set bool
		}{
			{"ca_file", t.CAFile != ""},
			{"server_name", t.ServerName != ""},
			{"insecure_skip_verify", t.InsecureSkipVerify},
			{"cert_file", t.CertFile != ""},
			{"key_file", t.KeyFile != ""},
		} {
			if o.set {
				v.fieldf(field(path, o.key), "has no effect unless enabled is true")
			}
		}
		return
	}
	ca, cert, key := field(path, "ca_file"), field(path, "cert_file"), field(path, "key_file")
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		v.fieldf(key, "required with cert_file: the client certificate's private key")
	case t.KeyFile != "" && t.CertFile == "":
		v.fieldf(cert, "required with key_file: the client certificate")
	}
	if t.CAFile != "" && t.InsecureSkipVerify {
		v.fieldf(ca, "has no effect with insecure_skip_verify: certificates are not verified")
	}
	v.file(ca, t.CAFile)
	v.file(cert, t.CertFile)
	v.file(key, t.KeyFile)
	if t.CAFile != "" && !v.blamed[ca] {
		if _, err := t.RootCAs(); err != nil {
			v.fieldf(ca, "%v", err)
		}
	}
	if t.CertFile != "" && t.KeyFile != "" && !v.blamed[cert] && !v.blamed[key] {
		if _, err := t.ClientCertificate(); err != nil {
			v.keyPair(path, t.CertFile, t.KeyFile, err)
		}
	}
	if t.ServerName != "" && !validHost(t.ServerName) && net.ParseIP(t.ServerName) == nil {
		v.fieldf(field(path, "server_name"), "invalid host name %q", t.ServerName)
	}
}

// keyPair reports err, from loading the certificate certFile and its key keyFile named by the
// cert_file and key_file fields of the section at path: the file that could not be read, or a pair
// that does not match.
func (v *validator) keyPair(path, certFile, keyFile string, err error) {
	var read *fs.PathError
	switch {
	case errors.As(err, &read) && read.Path == keyFile:
		v.fieldf(field(path, "key_file"), "cannot read %q: %v", keyFile, read.Err)
	case errors.As(err, &read):
		v.fieldf(field(path, "cert_file"), "cannot read %q: %v", certFile, read.Err)
	default:
		v.fieldf(field(path, "cert_file"), "%q and key_file %q are not a certificate and its key: %v", certFile, keyFile, err)
	}
}
