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
	e := newErrorLog(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.MessageKey {
				return slog.Attr{}
			}
			return a
		},
	})))
	e.now = func() time.Time { return now }
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
