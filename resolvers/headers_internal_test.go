package resolvers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// usedAfter is a ResponseWriter that fails the test when it is used once the handler is over, as
// net/http's own may not be (it reuses its buffers for the connection's next response).
type usedAfter struct {
	*httptest.ResponseRecorder
	t    *testing.T
	over bool
}

func (u *usedAfter) check(what string) {
	if u.over {
		u.t.Errorf("%s on the response after the handler returned", what)
	}
}

func (u *usedAfter) Write(b []byte) (int, error) {
	u.check("Write")
	return u.ResponseRecorder.Write(b)
}
func (u *usedAfter) WriteHeader(code int) {
	u.check("WriteHeader")
	u.ResponseRecorder.WriteHeader(code)
}
func (u *usedAfter) Flush() { u.check("Flush"); u.ResponseRecorder.Flush() }

// An event stream's writer passes its writes on until the handler finishes it, which sends an
// opening still held back; after that, a write (a keep-alive ping that came late, as gqlgen's
// transport, whose goroutine lived until the request's context ended, could write) gets an error
// and a flush does nothing, neither reaching the response: touching it then crashed the gateway.
func TestSSEWriterAfterFinish(t *testing.T) {
	rw := &usedAfter{ResponseRecorder: httptest.NewRecorder(), t: t}
	w := &sseWriter{ResponseWriter: rw}
	if _, err := w.Write([]byte(":\n\n")); err != nil { // the opening: held back
		t.Fatal(err)
	}
	w.finish()
	if got := rw.Body.String(); got != ":\n\n" {
		t.Errorf("finish sent %q, want the held opening", got)
	}
	rw.over = true
	if _, err := w.Write([]byte(": ping\n\n")); !errors.Is(err, errSSEDone) {
		t.Errorf("Write after finish: %v, want %v", err, errSSEDone)
	}
	w.Flush()
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
}

// TestInitHeader: a connection_init payload's headers are its string values by header name, any
// case, at the top level before a "headers" object's; a name given twice with different values keeps
// both, in the order of the payload's keys.
func TestInitHeader(t *testing.T) {
	got := initHeader(map[string]any{
		"Authorization": "Bearer t",
		"x-api-key":     "k",
		"X-Tenant":      "a",
		"x-tenant":      "b",
		"count":         3,
		"empty":         "",
		"headers":       map[string]any{"X-API-KEY": "other", "x-request-id": "r1", "Baggage": 1},
	})
	want := http.Header{
		"Authorization": {"Bearer t"},
		"X-Api-Key":     {"k"},
		"X-Tenant":      {"a", "b"},
		"X-Request-Id":  {"r1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("initHeader = %v, want %v", got, want)
	}
}
