package telemetry

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// An error like the last one logged is logged again only once an interval has passed, counting the
// ones in between; a different one is logged at once.
func TestErrorLogRateLimited(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	e := newClockedErrorLog(&out, &now)
	refused := errors.New("traces export: connection refused")
	for _, step := range []struct {
		after time.Duration
		err   error
	}{
		{0, refused}, // logged
		{5 * time.Second, refused},
		{5 * time.Second, refused},
		{5 * time.Second, errors.New("traces export: 401 Unauthorized")}, // logged: another error
		{5 * time.Second, refused},                                       // logged: another error
		{30 * time.Second, refused},
		{30 * time.Second, refused}, // logged: an interval since the last line
		{time.Second, nil},
	} {
		now = now.Add(step.after)
		e.Handle(step.err)
	}
	want := `level=WARN err="traces export: connection refused"
level=WARN err="traces export: 401 Unauthorized" suppressed=2
level=WARN err="traces export: connection refused"
level=WARN err="traces export: connection refused" suppressed=1
`
	if got := out.String(); got != want {
		t.Errorf("logged\n%s\nwant\n%s", got, want)
	}
}

// newClockedErrorLog returns an errorLog that writes its lines to out without their time and message,
// and reads the time from now.
func newClockedErrorLog(out *bytes.Buffer, now *time.Time) *errorLog {
	e := newErrorLog(slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.MessageKey {
				return slog.Attr{}
			}
			return a
		},
	})))
	e.now = func() time.Time { return *now }
	return e
}

// A client's malformed trace header, which the propagators report through the same handler, is not a
// warning, however many distinct values clients send; an export failure is.
func TestErrorLogClientInputNotWarned(t *testing.T) {
	var out bytes.Buffer
	e := newErrorLog(slog.New(slog.NewTextHandler(&out, nil))) // Info and above
	for i := range 50 {
		e.Handle(fmt.Errorf("invalid value: %q", fmt.Sprint("\xfe", i)))
	}
	if out.Len() != 0 {
		t.Errorf("clients' malformed baggage logged at Info or above:\n%s", out.String())
	}
	e.Handle(errors.New("traces export: connection refused"))
	if !strings.Contains(out.String(), "level=WARN") {
		t.Errorf("an export failure was not a warning: %q", out.String())
	}
}

// Errors that differ only in the addresses they name are the same error: an exporter reconnecting to
// a collector that never answers fails from a new local port each time, and is logged once an
// interval, with its latest text. An error that differs otherwise is another error.
func TestErrorLogAddressesIgnored(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	e := newClockedErrorLog(&out, &now)
	preface := func(local string) error {
		return fmt.Errorf(`traces export: rpc error: code = Unavailable desc = connection error: desc = "error reading server preface: raw-read tcp %s->127.0.0.1:34517: use of closed network connection"`, local)
	}
	for _, step := range []struct {
		after time.Duration
		err   error
	}{
		{0, preface("127.0.0.1:37110")}, // logged
		{20 * time.Second, preface("127.0.0.1:48122")},
		{20 * time.Second, errors.New("traces export: failed to send to http://[::1]:4318/v1/traces: 503 Service Unavailable")}, // logged: another error
		{5 * time.Second, errors.New("traces export: failed to send to http://[fe80::1%eth0]:4318/v1/traces: 503 Service Unavailable")},
		{5 * time.Second, errors.New("traces export: failed to send to http://[::1]:4318/v1/traces: 502 Bad Gateway")}, // logged: another status
		{5 * time.Second, errors.New("traces export: dial tcp 10.0.0.7:4317: connect: connection refused")},            // logged
		{5 * time.Second, errors.New("traces export: dial tcp 10.0.0.8:4317: connect: connection refused")},            // another address of the collector's name
		{time.Minute, errors.New("traces export: dial tcp 10.0.0.9:4317: connect: connection refused")},                // logged: an interval since
	} {
		now = now.Add(step.after)
		e.Handle(step.err)
	}
	want := `level=WARN err="traces export: rpc error: code = Unavailable desc = connection error: desc = \"error reading server preface: raw-read tcp 127.0.0.1:37110->127.0.0.1:34517: use of closed network connection\""
level=WARN err="traces export: failed to send to http://[::1]:4318/v1/traces: 503 Service Unavailable" suppressed=1
level=WARN err="traces export: failed to send to http://[::1]:4318/v1/traces: 502 Bad Gateway" suppressed=1
level=WARN err="traces export: dial tcp 10.0.0.7:4317: connect: connection refused"
level=WARN err="traces export: dial tcp 10.0.0.9:4317: connect: connection refused" suppressed=1
`
	if got := out.String(); got != want {
		t.Errorf("logged\n%s\nwant\n%s", got, want)
	}
}
