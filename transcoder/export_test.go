package transcoder

import (
	"net/http"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// ErrSlowPath is what the wire-to-JSON encoder answers for input it leaves to protojson.
var ErrSlowPath = errSlowPath

var wireCodecs sync.Map // protoreflect.MessageDescriptor -> *msgCodec

// WireJSON renders data, an encoded md message, with the wire-to-JSON encoder.
func WireJSON(md protoreflect.MessageDescriptor, data []byte) ([]byte, error) {
	c, ok := wireCodecs.Load(md)
	if !ok {
		c, _ = wireCodecs.LoadOrStore(md, make(codecs).get(md))
	}
	return c.(*msgCodec).appendJSON(nil, data, 0)
}

// BuildRequest matches r and builds its request message: the request half of a call, for benchmarks.
func BuildRequest(h *Handler, w http.ResponseWriter, r *http.Request) ([]byte, error) {
	c := Call{h: h, router: h.router(), w: w, r: r}
	b, err := c.router.Match(r, &c.params)
	if err != nil {
		return nil, err
	}
	c.binding = b
	return c.requestBytes()
}

// RenderResponse renders data as the response of the binding r matches: the response half of a call.
func RenderResponse(h *Handler, w http.ResponseWriter, r *http.Request, data []byte) error {
	c := Call{h: h, router: h.router(), w: w, r: r}
	b, err := c.router.Match(r, &c.params)
	if err != nil {
		return err
	}
	c.binding = b
	c.render(data)
	return nil
}
