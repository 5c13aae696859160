package grpcweb

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protogate/gateway/routing"
)

const binSuffix = "-bin"

// lowerKey returns the metadata key for a request header name. net/http
// canonicalises names ("X-User-Agent"); the headers browsers commonly send
// are lower-cased without allocating.
func lowerKey(k string) string {
	switch k {
	case "Accept":
		return "accept"
	case "Accept-Encoding":
		return "accept-encoding"
	case "Accept-Language":
		return "accept-language"
	case "Authorization":
		return "authorization"
	case "Cache-Control":
		return "cache-control"
	case "Connection":
		return "connection"
	case "Content-Length":
		return "content-length"
	case "Content-Type":
		return "content-type"
	case "Cookie":
		return "cookie"
	case "Grpc-Timeout":
		return "grpc-timeout"
	case "Origin":
		return "origin"
	case "Pragma":
		return "pragma"
	case "Referer":
		return "referer"
	case "Sec-Fetch-Dest":
		return "sec-fetch-dest"
	case "Sec-Fetch-Mode":
		return "sec-fetch-mode"
	case "Sec-Fetch-Site":
		return "sec-fetch-site"
	case "Te":
		return "te"
	case "Traceparent":
		return "traceparent"
	case "Tracestate":
		return "tracestate"
	case "User-Agent":
		return "user-agent"
	case "X-Grpc-Web":
		return "x-grpc-web"
	case "X-Request-Id":
		return "x-request-id"
	case "X-User-Agent":
		return "x-user-agent"
	}
	return strings.ToLower(k)
}

// isTransportHeader reports whether a lower-case request header describes
// the HTTP hop or the gRPC-Web encoding rather than the call, and so is not
// handed to the StreamHandler as metadata. A native gRPC server hides the
// same kind of headers from its handlers.
func isTransportHeader(k string) bool {
	switch k {
	case "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding",
		"upgrade", "trailer", "host", "content-length", "content-type",
		"content-encoding", "accept-encoding", "x-grpc-web",
		"grpc-timeout", "grpc-encoding", "grpc-accept-encoding",
		"grpc-status", "grpc-message", "grpc-status-details-bin":
		return true
	}
	return false
}

// isReservedResponseKey reports whether a metadata key set by the handler
// must not reach the response, because the translation itself owns it.
func isReservedResponseKey(k string) bool {
	switch k {
	case "content-type", "content-length", "content-encoding", "transfer-encoding",
		"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
		"grpc-status", "grpc-message", "grpc-status-details-bin",
		"grpc-encoding", "grpc-accept-encoding":
		return true
	}
	return false
}

// incomingMetadata turns request headers into the metadata a native gRPC
// server would hand its handler: lower-case keys, transport headers dropped,
// -bin values base64-decoded, and :authority from the Host. Headers that gRPC
// metadata cannot carry (keys outside [0-9a-z-_.], values that are not
// printable ASCII) are dropped, since the proxy could not forward them.
// A malformed -bin value fails the call with Internal, as in grpc-go.
func incomingMetadata(r *http.Request) (metadata.MD, error) {
	md := make(metadata.MD, len(r.Header)+1)
	var hopByHop []string // extra hop-by-hop headers named by Connection
	for _, v := range r.Header["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				hopByHop = append(hopByHop, strings.ToLower(tok))
			}
		}
	}
	for k, vv := range r.Header {
		key := lowerKey(k)
		if isTransportHeader(key) || !routing.ValidMetadataKey(key) || containsString(hopByHop, key) {
			continue
		}
		if strings.HasSuffix(key, binSuffix) {
			decoded := make([]string, 0, len(vv))
			for _, v := range vv {
				b, err := decodeBinValue(v)
				if err != nil {
					return nil, status.Errorf(codes.Internal, "grpc-web: malformed binary metadata %q in header %q: %v", v, key, err)
				}
				decoded = append(decoded, string(b))
			}
			md[key] = append(md[key], decoded...)
			continue
		}
		vals := vv // shared with r.Header unless a value must be dropped
		for i, v := range vv {
			if !routing.ValidMetadataValue(v) {
				vals = make([]string, i, len(vv))
				copy(vals, vv[:i])
				for _, v := range vv[i+1:] {
					if routing.ValidMetadataValue(v) {
						vals = append(vals, v)
					}
				}
				break
			}
		}
		if len(vals) == 0 {
			continue
		}
		if prev, ok := md[key]; ok {
			// Two spellings of one header (e.g. "X-A" and a raw "x-a").
			md[key] = append(append([]string(nil), prev...), vals...)
			continue
		}
		md[key] = vals
	}
	md[":authority"] = []string{r.Host}
	return md, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// decodeBinValue decodes a -bin header value, padded or not, as gRPC does.
func decodeBinValue(v string) ([]byte, error) {
	if len(v)%4 == 0 {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// outgoingValue returns the wire form of one response metadata value, or
// ok=false when the pair cannot be sent: a reserved or invalid key, or a
// non-binary value that is not printable ASCII (which could otherwise split
// a trailer line). Binary values are base64 with padding.
func outgoingValue(k, v string) (string, bool) {
	if !routing.ValidMetadataKey(k) || isReservedResponseKey(k) {
		return "", false
	}
	if strings.HasSuffix(k, binSuffix) {
		return base64.StdEncoding.EncodeToString([]byte(v)), true
	}
	return v, routing.ValidMetadataValue(v)
}

// addHeaders copies response metadata into HTTP headers.
func addHeaders(h http.Header, md metadata.MD) {
	for k, vv := range md {
		for _, v := range vv {
			if wire, ok := outgoingValue(k, v); ok {
				h.Add(k, wire)
			}
		}
	}
}

// appendStatusLines appends the gRPC-Web trailer block for st (nil means
// OK) and md: lower-case "key: value\r\n" lines.
func appendStatusLines(b []byte, st *status.Status, md metadata.MD) []byte {
	if st == nil {
		b = append(b, "grpc-status: 0\r\n"...)
		return appendMetadataLines(b, md)
	}
	b = append(b, "grpc-status: "...)
	b = strconv.AppendInt(b, int64(st.Code()), 10)
	b = append(b, "\r\n"...)
	if msg := st.Message(); msg != "" {
		b = append(b, "grpc-message: "...)
		b = appendPercentEncoded(b, msg)
		b = append(b, "\r\n"...)
	}
	if details := statusDetails(st); details != "" {
		b = append(b, "grpc-status-details-bin: "...)
		b = append(b, details...)
		b = append(b, "\r\n"...)
	}
	return appendMetadataLines(b, md)
}

func appendMetadataLines(b []byte, md metadata.MD) []byte {
	for k, vv := range md {
		for _, v := range vv {
			if wire, ok := outgoingValue(k, v); ok {
				b = append(b, k...)
				b = append(b, ": "...)
				b = append(b, wire...)
				b = append(b, "\r\n"...)
			}
		}
	}
	return b
}

// setStatusHeaders puts st and md into HTTP headers, for a trailers-only
// response.
func setStatusHeaders(h http.Header, st *status.Status, md metadata.MD) {
	h.Set("Grpc-Status", strconv.Itoa(int(st.Code())))
	if msg := st.Message(); msg != "" {
		h.Set("Grpc-Message", string(appendPercentEncoded(nil, msg)))
	}
	if details := statusDetails(st); details != "" {
		h.Set("Grpc-Status-Details-Bin", details)
	}
	addHeaders(h, md)
}

// statusDetails returns the base64 google.rpc.Status for st when it carries
// details, else "".
func statusDetails(st *status.Status) string {
	p := st.Proto()
	if len(p.GetDetails()) == 0 {
		return ""
	}
	b, err := proto.Marshal(p)
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

// appendPercentEncoded appends msg percent-encoded as gRPC encodes
// grpc-message: bytes outside %x20-7E, and '%' itself, become %XX.
func appendPercentEncoded(b []byte, msg string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c >= 0x20 && c <= 0x7e && c != '%' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&0xf])
	}
	return b
}
