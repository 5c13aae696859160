package transcoder

import (
	"net/http"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"
)

var jsonCodecCache sync.Map // protoreflect.FullName -> *jsonCodec

// TranscodeJSON transcodes data, a JSON md message, with the JSON-to-wire decoder; ok is false when
// the decoder leaves it to protojson.
func TranscodeJSON(md protoreflect.MessageDescriptor, data []byte) ([]byte, bool) {
	c, ok := jsonCodecCache.Load(md.FullName())
	if !ok {
		c, _ = jsonCodecCache.LoadOrStore(md.FullName(), newJSONCodecs().get(md))
	}
	return c.(*jsonCodec).transcode(nil, data)
}

// BuildRequestDynamic is BuildRequest without the fast path: the request built through dynamicpb.
func BuildRequestDynamic(h *Handler, w http.ResponseWriter, r *http.Request) ([]byte, error) {
	c := Call{h: h, router: h.router(), w: w, r: r}
	b, err := c.router.Match(r, &c.params)
	if err != nil {
		return nil, err
	}
	slow := *b
	slow.requestJSON = nil
	c.binding = &slow
	return c.requestBytes()
}

// FastRequest reports whether the fast path builds r's request from body, the way requestBytes
// would try it, and the input type of the binding r matches.
func FastRequest(h *Handler, r *http.Request, body []byte) (bool, protoreflect.MessageDescriptor) {
	c := Call{h: h, router: h.router(), r: r}
	b, err := c.router.Match(r, &c.params)
	if err != nil {
		return false, nil
	}
	c.binding = b
	if b.requestJSON == nil || (b.body != "*" && r.URL.RawQuery != "") {
		return false, b.method.Input()
	}
	_, ok := c.fastJSONRequest(body)
	return ok, b.method.Input()
}
