package routing

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// DefaultConnectTimeout bounds one attempt to connect to an endpoint whose transport sets no
// ConnectTimeout.
const DefaultConnectTimeout = 5 * time.Second

// Transport is how the pool connects to an endpoint: in plaintext (HTTP/2 with prior knowledge) or
// over TLS, and how long one attempt to connect may take. It is part of the endpoint's identity:
// the pool keeps one endpoint per address, transport and [EndpointConfig] ([Pool.AcquireWith]), so
// two clusters that list one address with different TLS settings get connections of their own,
// and a snapshot whose cluster changed its transport gets a new endpoint while the old one drains.
// Transports are compared by content: the same roots, client certificate and settings from two
// loads of a configuration are the same transport. The zero value is plaintext with
// DefaultConnectTimeout.
type Transport struct {
	// TLS, when set, makes connections TLS; nil means plaintext.
	TLS *TLSConfig
	// ConnectTimeout bounds one attempt to connect, the TCP and TLS handshakes included. It is
	// grpc-go's minimum connect timeout: an attempt made after a long reconnect backoff may take
	// as long as that backoff. 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// log, set by the pool on the transport it dials an endpoint over, is where the connection's
	// failed TLS handshakes are logged.
	log *slog.Logger
}

// TLSConfig is what a TLS transport trusts and presents. Its material is in memory, loaded by
// whoever built it (the gateway's config loads its files when the config is loaded): dialing reads
// no file. Connections negotiate TLS 1.2 or later and ALPN h2, as grpc-go's TLS credentials do;
// an HTTP health check offers h2 and http/1.1. Do not change a TLSConfig once a pool has it.
type TLSConfig struct {
	// RootCAs verify the endpoints' certificates; empty means the system roots.
	RootCAs []*x509.Certificate
	// ServerName is the name verified in the endpoints' certificates and sent in SNI. Empty means
	// the endpoint's host: for an endpoint that a resolved cluster ([Pool.NewResolvedCluster])
	// took from a host name, that name rather than the address it resolved to.
	ServerName string
	// InsecureSkipVerify accepts whatever certificate an endpoint presents. For tests only.
	InsecureSkipVerify bool
	// Certificate, when set, is the client certificate presented to endpoints that ask for one
	// (mTLS).
	Certificate *tls.Certificate
}

// transportID identifies a transport by content, for the pool's key.
type transportID struct {
	tls     [sha256.Size]byte // digest of the TLS settings; zero for plaintext
	timeout time.Duration     // defaults filled
}

func (t Transport) connectTimeout() time.Duration {
	if t.ConnectTimeout <= 0 {
		return DefaultConnectTimeout
	}
	return t.ConnectTimeout
}

// id returns t's identity: equal for transports that connect alike.
func (t Transport) id() transportID {
	id := transportID{timeout: t.connectTimeout()}
	if c := t.TLS; c != nil {
		h := sha256.New()
		h.Write([]byte("tls"))
		writeField(h, []byte(c.ServerName))
		if c.InsecureSkipVerify {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
		writeField(h, rootsDigest(c.RootCAs))
		writeField(h, certificateDigest(c.Certificate))
		h.Sum(id.tls[:0])
	}
	return id
}

// Equal reports whether t and u connect alike: the same TLS settings and material (roots and client
// certificate compared by content), and the same connect timeout, defaults filled.
func (t Transport) Equal(u Transport) bool { return t.id() == u.id() }

// writeField writes b to h after its length, so that consecutive fields cannot run into each other.
func writeField(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// rootsDigest digests a list of root certificates; nil for none.
func rootsDigest(roots []*x509.Certificate) []byte {
	if len(roots) == 0 {
		return nil
	}
	h := sha256.New()
	for _, c := range roots {
		writeField(h, c.Raw)
	}
	return h.Sum(nil)
}

// certificateDigest digests a client certificate's chain; nil for none. The private key goes with
// the certificate, so the chain identifies the pair.
func certificateDigest(c *tls.Certificate) []byte {
	if c == nil {
		return nil
	}
	h := sha256.New()
	for _, der := range c.Certificate {
		writeField(h, der)
	}
	return h.Sum(nil)
}

// String describes t for operators, as endpoint metrics and logs label it: "plaintext" or "tls",
// then the settings that differ from the defaults, the certificates by the first 8 hex digits of
// their digest: "tls, ca 1f2e3d4c, server_name users.internal, connect_timeout 2s". Transports
// that differ are described differently.
func (t Transport) String() string {
	parts := []string{"plaintext"}
	if c := t.TLS; c != nil {
		parts[0] = "tls"
		if len(c.RootCAs) > 0 {
			parts = append(parts, "ca "+hex.EncodeToString(rootsDigest(c.RootCAs)[:4]))
		}
		if c.ServerName != "" {
			parts = append(parts, "server_name "+c.ServerName)
		}
		if c.Certificate != nil {
			parts = append(parts, "client_cert "+hex.EncodeToString(certificateDigest(c.Certificate)[:4]))
		}
		if c.InsecureSkipVerify {
			parts = append(parts, "insecure_skip_verify")
		}
	}
	if d := t.connectTimeout(); d != DefaultConnectTimeout {
		parts = append(parts, "connect_timeout "+d.String())
	}
	return strings.Join(parts, ", ")
}

// forHost returns the transport of an endpoint taken from host name: a TLS transport that verifies
// the endpoint's host by default verifies host, not the address it resolved to.
func (t Transport) forHost(host string) Transport {
	if t.TLS != nil && t.TLS.ServerName == "" {
		c := *t.TLS
		c.ServerName = host
		t.TLS = &c
	}
	return t
}

// config returns the crypto/tls configuration of the transport's connections, without ALPN, which
// the gRPC and HTTP clients add. A config without ServerName verifies the host being dialed.
func (c *TLSConfig) config() *tls.Config {
	cfg := &tls.Config{
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify,
		MinVersion:         tls.VersionTLS12,
	}
	if len(c.RootCAs) > 0 {
		cfg.RootCAs = x509.NewCertPool()
		for _, cert := range c.RootCAs {
			cfg.RootCAs.AddCert(cert)
		}
	}
	if c.Certificate != nil {
		cfg.Certificates = []tls.Certificate{*c.Certificate}
	}
	return cfg
}

// credentials returns grpc-go's transport credentials for t: TLS with ALPN h2, or plaintext.
func (t Transport) credentials() credentials.TransportCredentials {
	if t.TLS == nil {
		return insecure.NewCredentials()
	}
	creds := credentials.NewTLS(t.TLS.config())
	if t.log == nil {
		return creds
	}
	return &reportingCredentials{TransportCredentials: creds, log: t.log}
}

// reportingCredentials logs the failed handshakes of TLS credentials. grpc-go keeps the reason to
// itself, and clients are told only that the handshake failed ([PublicError]): the operators read
// which certificate did not verify, and why, here. A failure is logged when it differs from the
// previous attempt's, so a backend that keeps failing the same way is logged once, not at every
// reconnect.
type reportingCredentials struct {
	credentials.TransportCredentials
	log *slog.Logger

	mu   sync.Mutex
	last string // the previous attempt's error; "" after a success
}

func (c *reportingCredentials) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	var msg string
	if err != nil {
		msg = err.Error()
	}
	c.mu.Lock()
	changed := msg != c.last
	c.last = msg
	c.mu.Unlock()
	if changed && err != nil {
		c.log.Warn("endpoint TLS handshake failed", "err", err)
	}
	return conn, info, err
}

func (c *reportingCredentials) Clone() credentials.TransportCredentials {
	return &reportingCredentials{TransportCredentials: c.TransportCredentials.Clone(), log: c.log}
}

// httpTransport returns an HTTP client transport for health checks of an endpoint reached over t,
// and the URL scheme to use with it. It keeps at most one idle connection.
func (t Transport) httpTransport() (*http.Transport, string) {
	timeout := t.connectTimeout()
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
	}
	if t.TLS == nil {
		return tr, "http"
	}
	tr.TLSClientConfig = t.TLS.config()
	tr.TLSHandshakeTimeout = timeout
	tr.ForceAttemptHTTP2 = true // a custom TLS config turns HTTP/2 off unless asked for
	return tr, "https"
}
