package routing

import (
	"context"
	"errors"
	"net"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// What clients are told when a call fails on the gateway's side of an upstream.
//
// Addresses are the operators' to see: the gateway's log, `gateway upstreams` and the access log's
// upstream name the endpoint. A client is told the code and the cause, never where the upstream is.
// The gateway's own refusals (an open circuit, a draining endpoint) are written that way;
// PublicError rewrites what grpc-go reports about an upstream connection.

// unsentError is a call the gateway refused before sending it to any upstream (an open circuit, a
// draining endpoint): the client sees its status, and a retry on another endpoint is safe whatever
// the method does.
type unsentError struct{ st *status.Status }

func (e *unsentError) Error() string              { return e.st.Err().Error() }
func (e *unsentError) GRPCStatus() *status.Status { return e.st }

// errCircuitOpen is the status of a call an open circuit refuses (the breaker adds its RetryInfo).
var errCircuitOpen = status.New(codes.Unavailable, "upstream unavailable: circuit breaker open")

// errDraining refuses a call to an endpoint that is leaving its cluster.
var errDraining error = &unsentError{status.New(codes.Unavailable, "upstream unavailable: the endpoint is draining")}

// errShuttingDown is the cause the gateway cancels open streams with when it stops (EndStreams).
var errShuttingDown = errors.New("the gateway is shutting down")

// shuttingDown is the status of a stream the gateway ended because it is stopping.
var shuttingDown = status.Error(codes.Unavailable, "the gateway is shutting down: reconnect to carry on")

// StreamError is PublicError for the failure of a stream whose Upstream context is ctx: a stream the
// gateway ended because it is stopping (Proxy.EndStreams) reports that, Unavailable, rather than
// the cancellation it met.
func StreamError(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), errShuttingDown) {
		return shuttingDown
	}
	return PublicError(err)
}

// errDeadline is the status of a call whose client's deadline passed.
var errDeadline = status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error())

// deadlineErr returns err, the failure of a call whose client's context is ctx, as the client meets
// it: once the client's deadline has passed, a cancellation is that deadline, DeadlineExceeded.
// grpc-go's server ends a stream at its deadline by cancelling the stream's context, racing the
// context's own timer, so the call's upstream leg and its writes to the client fail Canceled about
// as often as DeadlineExceeded; and a client's reset on its deadline cancels the call too. A
// cancellation while the deadline is still ahead stays Canceled.
func deadlineErr(ctx context.Context, err error) error {
	if err == nil || status.Code(err) != codes.Canceled || !deadlinePassed(ctx) {
		return err
	}
	return errDeadline
}

// PublicError returns err as a client may see it. A status passes unchanged unless it is grpc-go's
// report of a failure of the gateway's own connection to an upstream, written with the addresses
// at both ends ("connection error: desc = \"transport: Error while dialing: dial tcp
// 10.0.0.7:50051: connect: connection refused\""). That one keeps its code and details, and its
// message becomes "upstream connection failed: " and the cause ("connection refused"). The fronts
// call it on every error they answer with; it costs nothing on a call that succeeded.
func PublicError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*unsentError); ok {
		return err
	}
	st, ok := status.FromError(err)
	if !ok || !transportFailure(st.Message()) && !(st.Code() == codes.Unavailable && socketError(st.Message())) {
		return err
	}
	p := st.Proto()
	if st.Code() == codes.DeadlineExceeded {
		// The deadline passed while grpc-go and the upstream raced to end the stream (it may say
		// "stream terminated by RST_STREAM with error code: CANCEL"): the deadline is the news.
		p.Message = "context deadline exceeded"
	} else {
		p.Message = "upstream connection failed: " + transportCause(p.Message)
	}
	return status.FromProto(p).Err()
}

// transportFailure reports whether msg is grpc-go's about an upstream connection rather than an
// upstream's own status message, by the prefixes of its transport's errors. A message that merely
// names an address ("dial tcp 10.0.0.9:5432: connect: connection refused") may be a backend's own,
// about its database: it is the backend's to word.
func transportFailure(msg string) bool {
	for _, prefix := range transportPrefixes {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// socketError reports whether msg is, whole, Go's error about reading or writing a connected TCP
// socket, naming both ends ("write tcp 10.0.0.2:41234->10.0.0.7:50051: write: broken pipe"). grpc-go
// reports some failures of its own connection so, bare: one that an upstream closes right after the
// TLS handshake, as one refusing the gateway's client certificate does, fails the write of the HTTP/2
// preface. An upstream's own status saying exactly that, with code Unavailable, would be a socket
// error of its own it passes on, which tells a client nothing either.
func socketError(msg string) bool {
	op, rest, ok := strings.Cut(msg, " ")
	if !ok || op != "read" && op != "write" {
		return false
	}
	network, rest, _ := strings.Cut(rest, " ")
	ends, _, ok := strings.Cut(rest, ": ")
	return ok && (network == "tcp" || network == "tcp4" || network == "tcp6") && strings.Contains(ends, "->")
}

var transportPrefixes = [...]string{
	"connection error: desc = ", "transport: ", "error reading from server", "closing transport due to",
	"last connection error: ", "stream terminated by RST_STREAM",
	"context deadline exceeded " + notReady,                            // the deadline passed before a connection was ready
	errCertificateRefused, errNoCertificate, errCertificateUnsupported, // bare, as grpc-go may report a failed write of its preface
}

// transportCause names the cause of a transport failure, as a client may read it.
func transportCause(msg string) string {
	if prefaceCut(msg) {
		return "timed out"
	}
	for _, c := range transportCauses {
		if strings.Contains(msg, c.in) {
			return c.cause
		}
	}
	return "connection error"
}

// prefaceCut reports whether msg is grpc-go's report of a new connection that the gateway closed
// itself while it waited for the server's HTTP/2 preface ("error reading server preface: raw-read
// tcp 10.0.0.2:41234->10.0.0.7:50051: use of closed network connection"). grpc-go closes it so only
// when the attempt's connect context ends: its deadline, the connect timeout, passed, as with a
// backend that accepts connections and never answers; or the connection is being shut down, and
// then no call is waiting to be told. A server that closes the connection itself ends the wait
// with EOF, a reset or a broken pipe instead.
func prefaceCut(msg string) bool {
	_, read, ok := strings.Cut(msg, "error reading server preface: ")
	return ok && strings.Contains(read, net.ErrClosed.Error())
}

// transportCauses, in order: a failed TLS handshake may also say EOF or reset, and one that the
// connect timeout cut short says "context deadline exceeded" (its context's, whose deadline is the
// connect timeout's). An upstream that
// refuses the gateway's client certificate (or its lack of one) over TLS 1.3 says so with an alert
// that arrives after the handshake, on the first read.
var transportCauses = [...]struct{ in, cause string }{
	{errCertificateRefused, "TLS handshake failed"},
	{errNoCertificate, "TLS handshake failed"},
	{errCertificateUnsupported, "TLS handshake failed"},
	{"authentication handshake failed: context deadline exceeded", "timed out"},
	{"authentication handshake failed", "TLS handshake failed"},
	{"remote error: tls: ", "TLS handshake failed"},
	{"connection refused", "connection refused"},
	{"connection reset", "connection reset"},
	{"broken pipe", "connection closed"},
	{"no route to host", "no route to host"},
	{"network is unreachable", "network unreachable"},
	{"no such host", "host not found"},
	{"i/o timeout", "timed out"},
	{"deadline exceeded", "timed out"},
	{"keepalive ping failed", "keepalive timed out"},
	{"RST_STREAM", "stream reset"},
	{"EOF", "connection closed"},
}
