package transcoder_test

import (
	"net/http"
	"testing"

	"github.com/protogate/gateway/transcoder"
)

// contentTypes are Content-Types the REST front meets, well formed or not, with what it reads them
// as: the type before the first ";", in any case, its parameters unread.
var contentTypes = []struct {
	ct   string
	kind transcoder.BodyKind
}{
	{"", transcoder.BodyJSON},
	{"application/json", transcoder.BodyJSON},
	{"APPLICATION/Json", transcoder.BodyJSON},
	{" application/json ; charset=utf-8", transcoder.BodyJSON},
	{`application/json; charset="utf-8`, transcoder.BodyJSON}, // unterminated quote: mime.ParseMediaType fails
	{"application/json; charset", transcoder.BodyJSON},
	{"application/json;;", transcoder.BodyJSON},
	{";charset=utf-8", transcoder.BodyJSON}, // no type at all
	{"application/merge-patch+json", transcoder.BodyJSON},
	{`application/vnd.shop.v1+JSON; profile="x`, transcoder.BodyJSON},
	{"application/j\u017fon", transcoder.BodyJSON}, // U+017F folds to "s": not a type mime.ParseMediaType reads
	{"application/x-ndjson", transcoder.BodyNDJSON},
	{"application/jsonl", transcoder.BodyNDJSON},
	{"application/jsonlines", transcoder.BodyNDJSON},
	{"Application/X-JSONLines; charset=\"", transcoder.BodyNDJSON},
	{"application/x-protobuf", transcoder.BodyProto},
	{"application/protobuf; proto=shop.v1.User", transcoder.BodyProto},
	{"application/+json", transcoder.BodyOther},
	{"text/plain", transcoder.BodyOther},
	{"application/json charset=utf-8", transcoder.BodyOther},
	{"application/json, text/plain", transcoder.BodyOther},
	{"text/json", transcoder.BodyOther},
	{"multipart/form-data; boundary=x", transcoder.BodyOther},
}

// TestRequestBodyKind checks the one reading of a request's Content-Type against what the handler
// does with a unary JSON body so labelled: decoded when RequestBodyKind says JSON, refused with 415
// otherwise (NDJSON is for streams; protobuf bytes that are JSON text do not parse, 400).
func TestRequestBodyKind(t *testing.T) {
	h := synthHandler(t, "")
	for _, tc := range contentTypes {
		if got := transcoder.RequestBodyKind(tc.ct); got != tc.kind {
			t.Errorf("RequestBodyKind(%q) = %d, want %d", tc.ct, got, tc.kind)
		}
		w := call(h, "POST", "/v1/kitchen", `{"id":"k"}`, "Content-Type", "", "Content-Type", tc.ct)
		want := http.StatusOK
		switch tc.kind {
		case transcoder.BodyNDJSON, transcoder.BodyOther:
			want = http.StatusUnsupportedMediaType
		case transcoder.BodyProto:
			want = http.StatusBadRequest
		}
		if w.Code != want {
			t.Errorf("a JSON body labelled %q: status %d, want %d: %s", tc.ct, w.Code, want, w.Body)
		}
	}
}
