package transcoder

import (
	"bytes"
	"crypto/sha256"
	_ "embed" // the docs page
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc/codes"
)

// OpenAPIYAML converts a document from OpenAPI, JSON, to YAML with the same keys in the same order.
func OpenAPIYAML(doc []byte) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("openapi yaml: %w", err)
	}
	oaBlockStyle(&root)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, fmt.Errorf("openapi yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("openapi yaml: %w", err)
	}
	return buf.Bytes(), nil
}

// oaBlockStyle drops the flow style and quotes JSON parses into, so the encoder writes block
// mappings and quotes only the strings that need it (multi-line ones become literal blocks).
func oaBlockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		oaBlockStyle(c)
	}
}

//go:embed openapi_ui/index.html
var openAPIPage []byte

// OpenAPIHandler serves the document current returns: GET or HEAD /openapi.json, /openapi.yaml
// (converted once per document), and /docs, a page that lists the operations with their parameters
// and schemas and can try them (its assets are embedded; it needs no internet). current is called
// once per request and should return the document of the snapshot serving, computed once when the
// snapshot was built, or why that snapshot has none; no document and no error means no snapshot
// serves yet. Either way there is no document to serve: 503, saying which. Responses carry an ETag
// and answer If-None-Match with 304. Other paths get 404 and other methods 405, as
// google.rpc.Status JSON.
func OpenAPIHandler(current func() ([]byte, error)) http.Handler {
	return &openAPIHandler{current: current, page: openAPIPage, pageTag: oaETag(openAPIPage), pageCSP: oaPageCSP(openAPIPage)}
}

type openAPIHandler struct {
	current func() ([]byte, error)
	last    atomic.Pointer[openAPIDoc]

	page    []byte
	pageTag string
	pageCSP string
}

// openAPIDoc is one document with what is derived from it, computed once.
type openAPIDoc struct {
	json []byte
	etag string
	yaml func() ([]byte, error)
	// yamlTag is the YAML form's entity tag: the document's, marked inside its quotes (RFC 9110
	// 8.8.3), so that it is valid and differs from the JSON form's.
	yamlTag string
}

// doc returns the current document, or the error that says why there is none.
func (h *openAPIHandler) doc() (*openAPIDoc, error) {
	data, err := h.current()
	switch {
	case len(data) > 0:
	case err != nil:
		return nil, fmt.Errorf("the serving snapshot has no OpenAPI document: %w", err)
	default:
		return nil, errors.New("no OpenAPI document yet: no snapshot is serving")
	}
	if d := h.last.Load(); d != nil && len(d.json) == len(data) && (&d.json[0] == &data[0] || bytes.Equal(d.json, data)) {
		return d, nil
	}
	d := &openAPIDoc{json: data, etag: oaETag(data)}
	d.yamlTag = strings.TrimSuffix(d.etag, `"`) + `-yaml"`
	d.yaml = sync.OnceValues(func() ([]byte, error) { return OpenAPIYAML(data) })
	h.last.Store(d)
	return d, nil
}

func (h *openAPIHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch path {
	case "/openapi.json", "/openapi.yaml", "/docs", "/docs/":
	default:
		WriteError(w, NewError(codes.NotFound, "no such page: "+path))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		WriteError(w, MethodNotAllowed(r.Method, path, http.MethodGet, http.MethodHead))
		return
	}
	if path == "/docs" || path == "/docs/" {
		w.Header().Set("Content-Security-Policy", h.pageCSP)
		w.Header().Set("Referrer-Policy", "no-referrer")
		serveOpenAPIBytes(w, r, "text/html; charset=utf-8", h.pageTag, h.page)
		return
	}
	d, err := h.doc()
	if err != nil {
		WriteError(w, NewError(codes.Unavailable, err.Error()))
		return
	}
	if path == "/openapi.json" {
		serveOpenAPIBytes(w, r, "application/json", d.etag, d.json)
		return
	}
	data, err := d.yaml()
	if err != nil {
		WriteError(w, NewError(codes.Internal, err.Error()))
		return
	}
	serveOpenAPIBytes(w, r, "application/yaml", d.yamlTag, data)
}

func serveOpenAPIBytes(w http.ResponseWriter, r *http.Request, contentType, etag string, data []byte) {
	hdr := w.Header()
	hdr.Set("ETag", etag)
	hdr.Set("Cache-Control", "no-cache") // the document changes with the snapshot: revalidate
	hdr.Set("X-Content-Type-Options", "nosniff")
	if oaETagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", contentType)
	hdr.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}

// oaETagMatches reports whether an If-None-Match header names etag (weakly, as RFC 9110 asks for
// If-None-Match) or is "*".
func oaETagMatches(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

func oaETag(data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// oaPageCSP is the Content-Security-Policy of the docs page: its own inline script and style, by
// hash, and requests to its own origin only.
func oaPageCSP(page []byte) string {
	hash := func(open, close string) string {
		_, rest, ok := bytes.Cut(page, []byte(open))
		if !ok {
			return "'none'"
		}
		inline, _, _ := bytes.Cut(rest, []byte(close))
		sum := sha256.Sum256(inline)
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return "default-src 'none'; script-src " + hash("<script>", "</script>") +
		"; style-src " + hash("<style>", "</style>") +
		"; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}
