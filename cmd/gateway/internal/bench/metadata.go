package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
)

// tokenTTL is how long a run's token is valid: longer than any run.
const tokenTTL = 24 * time.Hour

// requestID is the x-request-id every call of a run carries, for the Policies target's access log.
const requestID = "bench"

// callMetadata is the metadata every call of a run carries, to every target alike, so that the
// client's cost is the same for each and only the Policies target does anything with it. As
// per-RPC credentials of a connection it is sent with each of its calls; it needs no TLS.
type callMetadata map[string]string

// newCallMetadata returns the metadata of a run: a demo token with scope UsersScope, valid from now,
// and requestID.
func newCallMetadata(now time.Time) (callMetadata, error) {
	token, err := demo.Token("bench", []string{UsersScope}, tokenTTL, now)
	if err != nil {
		return nil, fmt.Errorf("bench: demo token: %w", err)
	}
	return callMetadata{"authorization": "Bearer " + token, "x-request-id": requestID}, nil
}

// GetRequestMetadata returns the metadata, the same for every call.
func (m callMetadata) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return m, nil
}

// RequireTransportSecurity reports false: the loads run over plaintext loopback.
func (callMetadata) RequireTransportSecurity() bool { return false }
