package ratelimit

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/protogate/gateway/config"
)

// redisTLS makes the TLS connections to Redis. The files are read when the limiter is built (at
// start, and on a reload that changes the rate_limit section), so a bad file fails the build,
// never a decision. They are read again whenever a connection is made and a file has changed
// since (its size or modification time), so certificates renewed under the same paths take effect
// without a restart; a file that no longer reads keeps the last good one in use.
//
// Each connection is verified against server_name, or else against the host it dialed, which is
// what a cluster's nodes and a Sentinel-named primary need, since every one has an address (and
// certificate) of its own.
type redisTLS struct {
	serverName string
	roots      *watchedFiles[*x509.CertPool]   // nil: the system's roots
	pair       *watchedFiles[*tls.Certificate] // nil: no client certificate
}

// newRedisTLS reads t's files; nil when TLS is off.
func newRedisTLS(t config.RedisTLS) (*redisTLS, error) {
	if !t.Enabled {
		return nil, nil
	}
	r := &redisTLS{serverName: t.ServerName}
	if t.CAFile != "" {
		r.roots = &watchedFiles[*x509.CertPool]{paths: []string{t.CAFile}, load: func(paths []string) (*x509.CertPool, error) {
			pem, err := os.ReadFile(paths[0])
			if err != nil {
				return nil, fmt.Errorf("ratelimit: redis tls ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ratelimit: redis tls ca_file %s holds no PEM certificate", paths[0])
			}
			return pool, nil
		}}
		if _, err := r.roots.get(); err != nil {
			return nil, err
		}
	}
	if t.CertFile != "" || t.KeyFile != "" {
		r.pair = &watchedFiles[*tls.Certificate]{paths: []string{t.CertFile, t.KeyFile}, load: func(paths []string) (*tls.Certificate, error) {
			p, err := tls.LoadX509KeyPair(paths[0], paths[1])
			if err != nil {
				return nil, fmt.Errorf("ratelimit: redis tls client certificate: %w", err)
			}
			return &p, nil
		}}
		if _, err := r.pair.get(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// configFor returns the TLS configuration of a connection to addr ("host:port").
func (r *redisTLS) configFor(addr string) *tls.Config {
	name := r.serverName
	if name == "" {
		name, _, _ = net.SplitHostPort(addr)
	}
	c := &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12}
	if r.roots != nil {
		// crypto/tls verifies against a fixed RootCAs: with a CA file that may change, the chain
		// is verified here instead, as crypto/tls would, against the file's current roots and
		// the name (which, for an IP address, is not in the handshake's state: no SNI is sent).
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error { return verifyChain(cs, r.roots, name) }
	}
	if r.pair != nil {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return r.pair.get() }
	}
	return c
}

// verifyChain verifies a server's certificate chain against the current roots and name.
func verifyChain(cs tls.ConnectionState, roots *watchedFiles[*x509.CertPool], name string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the server sent no certificate")
	}
	pool, err := roots.get()
	if err != nil {
		return err
	}
	opts := x509.VerifyOptions{Roots: pool, DNSName: name, Intermediates: x509.NewCertPool()}
	for _, cert := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(cert)
	}
	_, err = cs.PeerCertificates[0].Verify(opts)
	return err
}

// watchedFiles is what some files hold, loaded again when one of them changes (size or
// modification time), at most once per connection made. A load that fails after a good one keeps
// the good one.
type watchedFiles[T any] struct {
	paths []string
	load  func(paths []string) (T, error)

	mu    sync.Mutex
	stamp []fileStamp // of the loaded files
	value T
	ok    bool
}

// fileStamp is what tells a file changed.
type fileStamp struct {
	size int64
	mod  time.Time
}

// get returns the files' current value.
func (w *watchedFiles[T]) get() (T, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	stamp := make([]fileStamp, len(w.paths))
	for i, p := range w.paths {
		if fi, err := os.Stat(p); err == nil {
			stamp[i] = fileStamp{size: fi.Size(), mod: fi.ModTime()}
		}
	}
	if w.ok && equalStamps(stamp, w.stamp) {
		return w.value, nil
	}
	v, err := w.load(w.paths)
	if err != nil {
		if w.ok {
			return w.value, nil // a file being replaced, or broken: the last good one serves
		}
		return v, err
	}
	w.value, w.stamp, w.ok = v, stamp, true
	return v, nil
}

func equalStamps(a, b []fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].size != b[i].size || !a[i].mod.Equal(b[i].mod) {
			return false
		}
	}
	return true
}
