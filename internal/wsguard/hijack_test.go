package wsguard_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/protogate/gateway/internal/wsguard"
)

// unwrapping wraps a writer the way middleware does, and has no Hijack of its own.
type unwrapping struct{ http.ResponseWriter }

func (u unwrapping) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// A writer that cannot hand over its connection is left as it is, with no guard, so that the
// library refuses the handshake before answering it; a nil Guard refuses nothing. One that can,
// itself or beneath middleware, gets a guard.
func TestWrap(t *testing.T) {
	rec := httptest.NewRecorder()
	for _, w := range []http.ResponseWriter{rec, unwrapping{rec}} {
		got, g := wsguard.Wrap(w)
		if got != w || g != nil {
			t.Errorf("Wrap(%T) = %T, %v; want the writer itself and no guard", w, got, g)
		}
		g.SetLimit(10)
		if g.Refused() != nil {
			t.Error("a nil Guard refused")
		}
	}

	hijackable := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		defer close(hijackable)
		for _, w := range []http.ResponseWriter{w, unwrapping{w}} {
			got, g := wsguard.Wrap(w)
			if _, ok := got.(http.Hijacker); !ok || g == nil {
				t.Errorf("Wrap(%T) = %T, %v; want a writer that hijacks through a guard", w, got, g)
			}
		}
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	<-hijackable
}
