package resolvers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// wrote is a ResponseWriter that signals its writes.
type wrote struct {
	http.ResponseWriter
	c chan struct{}
}

func (w *wrote) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	select {
	case w.c <- struct{}{}:
	default: // the test has seen enough
	}
	return n, err
}

func (w *wrote) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

// An idle event stream gets a comment each keep-alive interval, and none once it is stopped: stop
// returns only when the keep-alive has ended, so nothing writes to the response after the handler
// returned.
func TestEventStreamKeepOpen(t *testing.T) {
	rw := &usedAfter{ResponseRecorder: httptest.NewRecorder(), t: t}
	w := &wrote{ResponseWriter: rw, c: make(chan struct{}, 1)}
	s := &eventStream{w: w, rc: http.NewResponseController(w)}
	stop := s.keepOpen(time.Millisecond)
	for range 2 {
		select {
		case <-w.c:
		case <-time.After(5 * time.Second):
			t.Fatal("no keep-alive within 5s")
		}
	}
	stop()
	rw.over = true // a write from now on fails the test
	if got := rw.Body.String(); !strings.HasPrefix(got, ": ping\n\n: ping\n\n") || strings.Trim(got, ": ping\n") != "" {
		t.Errorf("stream %q, want keep-alive comments", got)
	}
}
