package server

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/protogate/gateway/config"
)

// dataTLS is the data port's TLS. The listener's configuration holds no material of its own: each
// handshake takes the current material's configuration (certificate chain and key, client CA roots)
// through GetConfigForClient, from a value that a reload swaps whole. New handshakes get the new
// material; established connections keep the one they were made with. A handshake loads one
// configuration, so its certificate and the roots that verify its client are always of one reload.
type dataTLS struct {
	listener *tls.Config                // given to the listener and the HTTP server
	cur      atomic.Pointer[tls.Config] // the material: one tls.Config per load, never changed once stored
}

// newDataTLS loads t's files; material that does not load is an error.
func newDataTLS(t config.ServerTLS) (*dataTLS, error) {
	material, err := loadServerTLS(t)
	if err != nil {
		return nil, err
	}
	d := new(dataTLS)
	d.cur.Store(material)
	d.listener = &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: material.NextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return d.cur.Load(), nil
		},
	}
	return d, nil
}

// loadServerTLS is the configuration of a handshake with t's key pair and client CA roots, loaded as
// config validation loads them.
func loadServerTLS(t config.ServerTLS) (*tls.Config, error) {
	cert, err := t.KeyPair()
	if err != nil {
		return nil, fmt.Errorf("tls: cert_file %s and key_file %s: %w", t.CertFile, t.KeyFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	roots, err := t.ClientCAs()
	if err != nil {
		return nil, fmt.Errorf("tls: client_ca_file: %w", err)
	}
	if roots != nil {
		cfg.ClientCAs = roots
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// sameMaterial reports whether two loads hold the same certificate chain and client CA roots.
func sameMaterial(a, b *tls.Config) bool {
	return slices.EqualFunc(a.Certificates[0].Certificate, b.Certificates[0].Certificate, bytes.Equal) &&
		a.ClientCAs.Equal(b.ClientCAs)
}

// PrepareTLS reads a reloaded config's tls files again, and returns what swaps them in: apply it
// once the rest of the config applied. A certificate and key that do not load or do not match, or
// client CA roots that do not load (a file caught half-written, say), are an error, and the
// material serving stays. Whether the port serves TLS at all is decided at start: with TLS off then,
// or off in cfg, apply does nothing (StartOnlyChanges names tls).
func (s *Server) PrepareTLS(cfg *config.Config) (apply func(), err error) {
	if s.tls == nil || !cfg.TLS.Enabled() {
		return func() {}, nil
	}
	next, err := loadServerTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	return func() {
		if old := s.tls.cur.Swap(next); sameMaterial(old, next) {
			return
		}
		leaf := next.Certificates[0].Leaf
		s.log.Info("tls: the data port serves new material to new connections", "cert_file", cfg.TLS.CertFile,
			"subject", leaf.Subject.String(), "not_after", leaf.NotAfter, "client_ca_file", cfg.TLS.ClientCAFile)
		warnExpiry(s.log, cfg.TLS.CertFile, next, time.Now())
	}, nil
}

// expirySoon is how close to its end a certificate being served is worth a warning: renewals
// (cert-manager's, ACME clients') run well before it.
const expirySoon = 7 * 24 * time.Hour

// warnExpiry logs a warning when the certificate material serves has expired, or will within
// expirySoon of now: clients refuse an expired one, and the gateway serves it all the same (a
// renewal may be on its way), so the log is where operators learn of it.
func warnExpiry(log *slog.Logger, certFile string, material *tls.Config, now time.Time) {
	leaf := material.Certificates[0].Leaf
	switch left := leaf.NotAfter.Sub(now); {
	case left <= 0:
		log.Warn("tls: the data port's certificate has expired: clients will refuse it", "cert_file", certFile,
			"subject", leaf.Subject.String(), "not_after", leaf.NotAfter)
	case left < expirySoon:
		log.Warn("tls: the data port's certificate expires within a week", "cert_file", certFile,
			"subject", leaf.Subject.String(), "not_after", leaf.NotAfter)
	}
}
