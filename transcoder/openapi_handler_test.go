package transcoder_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/protogate/gateway/transcoder"
)

// oaServe runs one request through h.
func oaServe(h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// oaStatus decodes a google.rpc.Status body.
func oaStatus(t *testing.T, w *httptest.ResponseRecorder) (code int, msg string) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Message == "" {
		t.Errorf("error body %q is no google.rpc.Status: %v", w.Body, err)
	}
	return st.Code, st.Message
}

func TestOpenAPIHandler(t *testing.T) {
	shop := oaGenerate(t, oaShopServices(), oaShopOptions)
	features := oaGenerate(t, oaFeatures(t), transcoder.OpenAPIOptions{Title: "Features"})
	var current atomic.Pointer[[]byte]
	h := transcoder.OpenAPIHandler(func() ([]byte, error) {
		if p := current.Load(); p != nil {
			return *p, nil
		}
		return nil, nil
	})

	// No snapshot yet.
	w := oaServe(h, "GET", "/openapi.json")
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("before a document: %d", w.Code)
	}
	if code, msg := oaStatus(t, w); code != 14 || msg != "no OpenAPI document yet: no snapshot is serving" {
		t.Errorf("before a document: code %d %q, want 14 (UNAVAILABLE) saying no snapshot serves", code, msg)
	}
	// A snapshot serves, but its document could not be written: the answer says why, not that
	// no snapshot serves.
	broken := transcoder.OpenAPIHandler(func() ([]byte, error) { return nil, errors.New("openapi: json: unsupported value: NaN") })
	for _, path := range []string{"/openapi.json", "/openapi.yaml"} {
		w := oaServe(broken, "GET", path)
		code, msg := oaStatus(t, w)
		if w.Code != http.StatusServiceUnavailable || code != 14 || msg != "the serving snapshot has no OpenAPI document: openapi: json: unsupported value: NaN" {
			t.Errorf("GET %s of a snapshot without a document: %d, code %d %q", path, w.Code, code, msg)
		}
	}

	current.Store(&shop)
	w = oaServe(h, "GET", "/openapi.json")
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), shop) {
		t.Fatalf("GET /openapi.json: %d, %d bytes, want the document", w.Code, w.Body.Len())
	}
	etag := w.Header().Get("ETag")
	for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(etag) {
		t.Errorf("ETag %q", etag)
	}

	// Conditional and HEAD requests.
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		if w := oaServe(h, "GET", "/openapi.json", "If-None-Match", inm); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d with %d bytes, want 304 and none", inm, w.Code, w.Body.Len())
		}
	}
	if w := oaServe(h, "GET", "/openapi.json", "If-None-Match", `"other"`); w.Code != http.StatusOK {
		t.Errorf("If-None-Match of another version: %d", w.Code)
	}
	w = oaServe(h, "HEAD", "/openapi.json")
	if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") != strconv.Itoa(len(shop)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %s", w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
	}

	// YAML: the same document, with a tag of its own.
	w = oaServe(h, "GET", "/openapi.yaml")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /openapi.yaml: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	yamlTag := w.Header().Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{24}-yaml"$`).MatchString(yamlTag) || yamlTag == etag {
		t.Errorf("YAML ETag %q, JSON's %q: want a quoted entity-tag of its own", yamlTag, etag)
	}
	for _, tc := range []struct {
		path, tag string
		want      int
	}{
		{"/openapi.yaml", yamlTag, http.StatusNotModified},
		{"/openapi.yaml", "W/" + yamlTag, http.StatusNotModified},
		{"/openapi.yaml", etag, http.StatusOK},
		{"/openapi.json", yamlTag, http.StatusOK},
	} {
		if w := oaServe(h, "GET", tc.path, "If-None-Match", tc.tag); w.Code != tc.want {
			t.Errorf("%s with If-None-Match %s: %d, want %d", tc.path, tc.tag, w.Code, tc.want)
		}
	}
	var y struct {
		Info struct{ Title string }
	}
	if err := yaml.Unmarshal(w.Body.Bytes(), &y); err != nil || y.Info.Title != "Shop" {
		t.Errorf("YAML title %q: %v", y.Info.Title, err)
	}

	// A new snapshot: both forms change, and so does the tag.
	current.Store(&features)
	if w := oaServe(h, "GET", "/openapi.json"); !bytes.Equal(w.Body.Bytes(), features) || w.Header().Get("ETag") == etag {
		t.Error("/openapi.json did not follow the new document")
	}
	if w := oaServe(h, "GET", "/openapi.json", "If-None-Match", etag); w.Code != http.StatusOK {
		t.Errorf("the old tag still matches: %d", w.Code)
	}
	if err := yaml.Unmarshal(oaServe(h, "GET", "/openapi.yaml").Body.Bytes(), &y); err != nil || y.Info.Title != "Features" {
		t.Errorf("YAML title after the swap %q: %v", y.Info.Title, err)
	}
	// A copy of the same document is the same version.
	same := bytes.Clone(features)
	current.Store(&same)
	if w := oaServe(h, "GET", "/openapi.json", "If-None-Match", oaServe(h, "GET", "/openapi.json").Header().Get("ETag")); w.Code != http.StatusNotModified {
		t.Errorf("a copy of the document: %d, want 304", w.Code)
	}

	// Errors are google.rpc.Status JSON.
	w = oaServe(h, "POST", "/openapi.json")
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
	if code, _ := oaStatus(t, w); code != 12 {
		t.Errorf("POST: code %d, want 12 (UNIMPLEMENTED)", code)
	}
	w = oaServe(h, "GET", "/openapi.xml")
	if w.Code != http.StatusNotFound {
		t.Errorf("GET /openapi.xml: %d", w.Code)
	}
	if code, _ := oaStatus(t, w); code != 5 {
		t.Errorf("GET /openapi.xml: code %d, want 5 (NOT_FOUND)", code)
	}
}

func TestOpenAPIHandlerDocs(t *testing.T) {
	h := transcoder.OpenAPIHandler(func() ([]byte, error) { return nil, nil })
	for _, path := range []string{"/docs", "/docs/"} {
		w := oaServe(h, "GET", path)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Header().Get("Content-Type"))
		}
		page := w.Body.String()
		// Self-contained: nothing is loaded from elsewhere.
		if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`).FindString(page); m != "" {
			t.Errorf("the page loads %s", m)
		}
		for _, want := range []string{"openapi.json", "fetch(", "Try it"} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		// The policy allows exactly the page's own script and style.
		csp := w.Header().Get("Content-Security-Policy")
		for _, tag := range []string{"script", "style"} {
			m := regexp.MustCompile(`(?s)<` + tag + `>(.*?)</` + tag + `>`).FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("no inline %s", tag)
			}
			sum := sha256.Sum256([]byte(m[1]))
			if want := tag + "-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("CSP %q", csp)
		}
		if w := oaServe(h, "GET", path, "If-None-Match", w.Header().Get("ETag")); w.Code != http.StatusNotModified {
			t.Errorf("GET %s again: %d, want 304", path, w.Code)
		}
	}
}

// Requests race with snapshot swaps; run with -race.
func TestOpenAPIHandlerConcurrent(t *testing.T) {
	docs := [][]byte{oaGenerate(t, oaShopServices(), oaShopOptions), oaGenerate(t, oaFeatures(t), transcoder.OpenAPIOptions{})}
	var current atomic.Pointer[[]byte]
	current.Store(&docs[0])
	h := transcoder.OpenAPIHandler(func() ([]byte, error) { return *current.Load(), nil })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				if g == 0 {
					current.Store(&docs[i%2])
				}
				for _, path := range []string{"/openapi.json", "/openapi.yaml"} {
					if w := oaServe(h, "GET", path); w.Code != http.StatusOK || w.Body.Len() == 0 {
						t.Errorf("GET %s: %d", path, w.Code)
					}
				}
			}
		})
	}
	wg.Wait()
}
