package transcoder

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/routing"
)

// Header mapping, both ways.
//
// Request headers that become gRPC metadata (keys lower-cased):
//   - Authorization;
//   - Grpc-Metadata-<Key>: <key>, prefix stripped ("-bin" keys carry base64, decoded here);
//   - X-Forwarded-For, with the client's address appended; X-Forwarded-Host (the Host header when
//     absent) and X-Forwarded-Proto ("http" or "https" when absent);
//   - the headers of the allowlist (WithHeaders), under their own names;
//   - the headers the snapshot's routes match on and its clusters hash (the Router's
//     WithRouteHeaders), under their own names, so routing sees them as it does a gRPC call's.
//
// Hop-by-hop headers (config.IsHopByHopHeader: Connection, Keep-Alive, Proxy-*, TE, Trailer,
// Transfer-Encoding, Upgrade; and any header the Connection header names) never pass, nor do keys
// gRPC reserves (grpc-*, content-type, user-agent, te). Grpc-Timeout (gRPC's format, "100m")
// becomes the call's deadline; the route's timeout still applies when shorter.
//
// Upstream response headers come back as Grpc-Metadata-<Key> and trailers as Grpc-Trailer-<Key> (the
// prefixes grpc-gateway uses). Unary responses are complete before the first byte is written, so the
// trailers are sent as ordinary response headers: every client sees them, not only those that sent
// "TE: trailers" (grpc-gateway sends HTTP trailers, and only then).

const (
	metadataHeaderPrefix = "Grpc-Metadata-"
	trailerHeaderPrefix  = "Grpc-Trailer-"
)

// reservedKey reports whether a metadata key is gRPC's own: set by the transport, never by a header.
func reservedKey(key string) bool {
	return strings.HasPrefix(key, "grpc-") || strings.HasPrefix(key, ":") ||
		key == "content-type" || key == "user-agent" || key == "te"
}

// headerPolicy is the compiled header allowlist: canonical header name -> metadata key.
type headerPolicy map[string]string

func newHeaderPolicy(names []string) (headerPolicy, error) {
	p := headerPolicy{"Authorization": "authorization"}
	for _, name := range names {
		canon, key, err := passingHeader(name)
		if err != nil {
			return nil, fmt.Errorf("header allowlist: %w", err)
		}
		p[canon] = key
	}
	return p, nil
}

// passingHeader returns the canonical name and metadata key of a header that can pass as metadata,
// or why it cannot: not a valid name, hop-by-hop, or a key gRPC reserves.
func passingHeader(name string) (canon, key string, err error) {
	canon = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name))
	key = strings.ToLower(canon)
	switch {
	case canon == "" || !routing.ValidMetadataKey(key):
		return "", "", fmt.Errorf("%q is not a valid header name", name)
	case config.IsHopByHopHeader(canon):
		return "", "", fmt.Errorf("%s is a hop-by-hop header and never passes", canon)
	case reservedKey(key):
		return "", "", fmt.Errorf("%s is reserved by gRPC", canon)
	}
	return canon, key, nil
}

// newRouteHeaders compiles the lower-case names of the headers routing reads (a snapshot's route
// conditions and hash keys) into an allowlist. Names that never pass as a header (passingHeader)
// are left out rather than refused: only gRPC calls can carry them. So are the X-Forwarded-*
// headers, which pass anyway.
func newRouteHeaders(names []string) headerPolicy {
	var p headerPolicy
	for _, name := range names {
		canon, key, err := passingHeader(name)
		if err != nil || canon == "X-Forwarded-For" || canon == "X-Forwarded-Host" || canon == "X-Forwarded-Proto" {
			continue
		}
		if p == nil {
			p = make(headerPolicy, len(names))
		}
		p[canon] = key
	}
	return p
}

// metadata builds the outgoing metadata of a call from the request's headers: those of p, and
// those of route, the snapshot's route headers (newRouteHeaders).
func (p headerPolicy) metadata(r *http.Request, route headerPolicy) (metadata.MD, error) {
	md := make(metadata.MD, 4)
	connection := r.Header["Connection"]
	for name, values := range r.Header {
		var key string
		if rest, ok := strings.CutPrefix(name, metadataHeaderPrefix); ok {
			key = strings.ToLower(rest)
			if config.IsHopByHopHeader(rest) || reservedKey(key) || !routing.ValidMetadataKey(key) {
				continue
			}
		} else if key = p[name]; key == "" {
			if len(route) == 0 {
				continue
			}
			if key = route[name]; key == "" {
				continue
			}
		}
		if len(connection) > 0 && namedIn(connection, name) {
			continue
		}
		for _, v := range values {
			if strings.HasSuffix(key, "-bin") {
				b, err := decodeBinHeader(v)
				if err != nil {
					return nil, badRequest(name, fmt.Sprintf("header %s: binary metadata must be base64: %v", name, err))
				}
				md[key] = append(md[key], string(b))
				continue
			}
			if !routing.ValidMetadataValue(v) {
				return nil, badRequest(name, fmt.Sprintf("header %s: gRPC metadata values must be printable ASCII", name))
			}
			md[key] = append(md[key], v)
		}
	}
	p.forwarded(r, md)
	return md, nil
}

// forwarded sets x-forwarded-for (appending the client's address), -host and -proto.
func (headerPolicy) forwarded(r *http.Request, md metadata.MD) {
	client := r.RemoteAddr
	if host, _, err := net.SplitHostPort(client); err == nil {
		client = host
	}
	xff := strings.Join(r.Header.Values("X-Forwarded-For"), ", ")
	switch {
	case client == "":
	case xff == "":
		xff = client
	default:
		xff += ", " + client
	}
	if xff != "" && routing.ValidMetadataValue(xff) {
		md["x-forwarded-for"] = []string{xff}
	}
	host := r.Header.Get("X-Forwarded-Host")
	if host == "" {
		host = r.Host
	}
	if host != "" && routing.ValidMetadataValue(host) {
		md["x-forwarded-host"] = []string{host}
	}
	proto := r.Header.Get("X-Forwarded-Proto")
	if proto == "" {
		proto = "http"
		if r.TLS != nil {
			proto = "https"
		}
	}
	if routing.ValidMetadataValue(proto) {
		md["x-forwarded-proto"] = []string{proto}
	}
}

// namedIn reports whether the Connection header values name header.
func namedIn(connection []string, header string) bool {
	for _, v := range connection {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), header) {
				return true
			}
		}
	}
	return false
}

func decodeBinHeader(v string) ([]byte, error) {
	if len(v)%4 == 0 {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// writeMetadata adds upstream headers (prefix Grpc-Metadata-) or trailers (Grpc-Trailer-) to h.
// Binary values are base64-encoded; gRPC's own keys are not repeated.
func writeMetadata(h http.Header, prefix string, md metadata.MD) {
	for key, values := range md {
		if reservedKey(key) {
			continue
		}
		name := textproto.CanonicalMIMEHeaderKey(prefix + key)
		bin := strings.HasSuffix(key, "-bin")
		for _, v := range values {
			if bin {
				v = base64.StdEncoding.EncodeToString([]byte(v))
			}
			h[name] = append(h[name], v)
		}
	}
}
