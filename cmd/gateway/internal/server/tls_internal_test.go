package server

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/protogate/gateway/internal/testlog"
)

// A certificate served past its end, or within a week of it, is a warning in the log; one with
// longer left is not.
func TestWarnExpiry(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		left time.Duration
		want string
	}{
		{-time.Hour, "has expired"},
		{6 * 24 * time.Hour, "expires within a week"},
		{30 * 24 * time.Hour, ""},
	} {
		var logs testlog.Buffer
		material := &tls.Config{Certificates: []tls.Certificate{{Leaf: &x509.Certificate{
			Subject: pkix.Name{CommonName: "gateway.test"}, NotAfter: now.Add(tc.left),
		}}}}
		warnExpiry(slog.New(slog.NewTextHandler(&logs, nil)), "server.crt", material, now)
		got := logs.String()
		if tc.want == "" && got != "" || tc.want != "" && (!strings.Contains(got, tc.want) || !strings.Contains(got, "cert_file=server.crt")) {
			t.Errorf("%v left: logged %q, want %q", tc.left, got, tc.want)
		}
	}
}
