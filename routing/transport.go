package routing

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	// ConnectTimeout bounds one attempt to connect, the TCP and TLS handshakes and the wait for the
	// server's HTTP/2 preface included; the calls waiting on an attempt it ends fail "upstream
	// connection failed: timed out". It is grpc-go's minimum connect timeout: an attempt made
	// after a long reconnect backoff may take as long as that backoff. 0 means
	// DefaultConnectTimeout.
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
	cfg := t.TLS.config()
	return &reportingCredentials{TransportCredentials: credentials.NewTLS(cfg), config: cfg, log: t.log}
}

// reportingCredentials are TLS credentials that tell why a handshake failed. grpc-go keeps the reason
// to itself, and clients are told only that the handshake failed ([PublicError]): the operators read
// which certificate did not verify, and why, in the log (when there is one). A failure is logged when
// it differs from the previous attempt's, so a backend that keeps failing the same way is logged
// once, not at every reconnect.
//
// Over TLS 1.3 a backend checks the client's certificate after the client's side of the handshake is
// done: one that refuses it (or its lack) closes the connection, and the gateway learns of it only
// when it first writes or reads. A connection to a backend that asked for a client certificate is
// therefore watched until its first read succeeds (refusalConn), and a failure before then is this
// handshake's failure, for the log and for clients.
type reportingCredentials struct {
	credentials.TransportCredentials
	config *tls.Config // the credentials' own, with Certificates
	log    *slog.Logger

	mu   sync.Mutex
	last string // the previous attempt's error; "" after a success
}

func (c *reportingCredentials) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	// Credentials of this handshake's own, whose choice of client certificate notes that the
	// backend asked for one (grpc-go clones the config, but its handshake has no context to carry
	// the note in).
	var req certRequest
	cfg := c.config.Clone()
	cfg.GetClientCertificate = req.choose(c.config.Certificates)
	conn, info, err := credentials.NewTLS(cfg).ClientHandshake(ctx, authority, raw)
	if err != nil {
		c.report(err.Error())
		return nil, nil, err
	}
	kind := req.kind.Load()
	if kind == nil {
		c.report("")
		return conn, info, nil
	}
	return &refusalConn{Conn: conn, creds: c, kind: *kind}, info, nil
}

func (c *reportingCredentials) Clone() credentials.TransportCredentials {
	return &reportingCredentials{TransportCredentials: c.TransportCredentials.Clone(), config: c.config, log: c.log}
}

// report notes an attempt's outcome, msg its error ("" for a success), and logs a failure that
// differs from the previous attempt's.
func (c *reportingCredentials) report(msg string) { c.reportAs(msg, msg) }

// reportAs is report of a failure of the kind key (which decides whether it differs from the
// previous attempt's) whose error is msg.
func (c *reportingCredentials) reportAs(key, msg string) {
	c.mu.Lock()
	changed := key != c.last
	c.last = key
	c.mu.Unlock()
	if changed && msg != "" && c.log != nil {
		c.log.Warn("endpoint TLS handshake failed", "err", msg)
	}
}

// certRequest notes, during one handshake, whether the backend asked for a client certificate and
// what came of it: the kind of refusal (errNoCertificate, ...) closing the connection then would be.
type certRequest struct{ kind atomic.Pointer[string] } // nil: not asked

// choose returns a tls.Config.GetClientCertificate that picks from certs as crypto/tls does (the
// first the backend supports, else none) and notes the request.
func (r *certRequest) choose(certs []tls.Certificate) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		kind := errNoCertificate
		defer func() { r.kind.Store(&kind) }()
		for i := range certs {
			if cri.SupportsCertificate(&certs[i]) == nil {
				kind = errCertificateRefused
				return &certs[i], nil
			}
		}
		if len(certs) > 0 {
			kind = errCertificateUnsupported
		}
		return new(tls.Certificate), nil
	}
}

// refusalConn is a TLS connection to a backend that asked for a client certificate, until its first
// read succeeds: a write or read that fails before then is the backend refusing the certificate
// sent (or the lack of one), which its error then says, as a handshake failure.
type refusalConn struct {
	net.Conn
	creds    *reportingCredentials
	kind     string      // what a refusal says: errNoCertificate, ...
	settled  atomic.Bool // a read succeeded, or a failure was reported
	refusing atomic.Bool // a failure was reported: later errors are the same refusal's
}

func (c *refusalConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if !c.settled.Load() {
		if n > 0 {
			c.settled.Store(true)
			c.creds.report("")
		} else if err != nil {
			err = c.refused(err)
		}
	} else if err != nil && c.refusing.Load() {
		err = c.refused(err)
	}
	return n, err
}

func (c *refusalConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil && (!c.settled.Load() || c.refusing.Load()) {
		err = c.refused(err)
	}
	return n, err
}

// refused reports err, the connection's first failure, as the backend's refusal of the client
// certificate, and returns the error that says so. The backend's alert, when the read got it
// ("remote error: tls: certificate required"), or else the socket's error, is its cause: which of
// the two comes first is a race, so a refusal of the same kind is logged once either way.
func (c *refusalConn) refused(err error) error {
	msg := c.kind + ": " + err.Error()
	if !c.settled.Swap(true) {
		c.refusing.Store(true)
		c.creds.reportAs(c.kind, msg)
	}
	return &refusalError{msg: msg, err: err}
}

// The messages of a backend's refusal of the gateway's client certificate, which PublicError tells
// clients is a failed TLS handshake.
const (
	errCertificateRefused = "tls: the backend asked for a client certificate and closed the connection on the one sent"
	errNoCertificate      = "tls: the backend asked for a client certificate and closed the connection: the cluster's tls has none (cert_file)"
	// The backend named the issuers or signature schemes it accepts, and the cluster's certificate
	// has none of them: crypto/tls then sends none.
	errCertificateUnsupported = "tls: the backend asked for a client certificate and closed the connection: the cluster's (cert_file) is not of an issuer or key it accepts, so none was sent"
)

// refusalError is a connection's error that the backend's refusal of the handshake explains.
type refusalError struct {
	msg string
	err error
}

func (e *refusalError) Error() string { return e.msg }
func (e *refusalError) Unwrap() error { return e.err }

// SyscallConn gives grpc-go the socket under the TLS connection, as its own credentials' do.
func (c *refusalConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.New("routing: the connection has no socket")
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
