package auth

import (
	"crypto/x509"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// mtlsAuth names consumers by their verified client certificates.
type mtlsAuth struct {
	from   string
	scopes []string
	idKeys identityKeys
}

func newMTLS(cfg config.MTLS, idKeys identityKeys) *mtlsAuth {
	return &mtlsAuth{from: cmpOr(cfg.ConsumerFrom, config.DefaultMTLSConsumer), scopes: cfg.Scopes, idKeys: idKeys}
}

// leaf returns the client's verified certificate: the first certificate of a chain the TLS listener
// verified against tls.client_ca_file; nil when there is none (plaintext, no certificate sent).
func leaf(p *peer.Peer) *x509.Certificate {
	if p == nil {
		return nil
	}
	var info credentials.TLSInfo
	switch ai := p.AuthInfo.(type) {
	case credentials.TLSInfo:
		info = ai
	case *credentials.TLSInfo:
		if ai == nil {
			return nil
		}
		info = *ai
	default:
		return nil
	}
	if len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return info.State.VerifiedChains[0][0]
}

// identify returns the identity cert names, or false when it names no consumer.
func (m *mtlsAuth) identify(cert *x509.Certificate) (*policy.Identity, []string, bool) {
	var consumer string
	switch m.from {
	case "dns_san":
		if len(cert.DNSNames) > 0 {
			consumer = cert.DNSNames[0]
		}
	case "uri_san":
		if len(cert.URIs) > 0 {
			consumer = cert.URIs[0].String()
		}
	case "email_san":
		if len(cert.EmailAddresses) > 0 {
			consumer = cert.EmailAddresses[0]
		}
	default:
		consumer = cert.Subject.CommonName
	}
	if consumer == "" || !validValue(consumer) {
		return nil, nil, false
	}
	id := &policy.Identity{Consumer: consumer, Method: "mtls", Provider: config.ProviderMTLS, Scopes: m.scopes}
	return id, m.idKeys.upstream(id), true
}
