package transcoder

import (
	"iter"
	"strconv"
	"strings"
)

// Content negotiation. Request bodies are JSON (no Content-Type, application/json, or any
// application/*+json such as application/merge-patch+json) or binary protobuf
// (application/x-protobuf, application/protobuf); anything else is 415, except for google.api.HttpBody
// bodies, which take any type. Streamed request bodies may also be newline-delimited JSON
// (stream_body.go). Responses are JSON unless Accept prefers one of the protobuf types (by q-value,
// ties to the first listed); an Accept that allows neither still gets JSON rather than a 406.

type format uint8

const (
	formatJSON format = iota
	formatProto
)

const (
	contentTypeJSON = "application/json"
)

// BodyKind is what a request body is to the REST front, by its Content-Type (RequestBodyKind).
type BodyKind uint8

const (
	// BodyOther is a type the front does not decode: refused with 415, unless the method takes a
	// google.api.HttpBody, whose bytes go upstream as they are.
	BodyOther BodyKind = iota
	// BodyJSON is JSON: no Content-Type, application/json, or any application/*+json. A unary
	// request's body is one JSON value; a streamed body is read as a sequence of them.
	BodyJSON
	// BodyNDJSON is newline-delimited JSON, one request message a line: application/x-ndjson,
	// application/jsonl, application/jsonlines or application/x-jsonlines. Only streaming methods
	// take it; a unary method answers 415.
	BodyNDJSON
	// BodyProto is binary protobuf: application/x-protobuf or application/protobuf.
	BodyProto
)

// RequestBodyKind says how the REST front reads a request body labelled contentType. It is the one
// reading of the header: the front decodes bodies by it, and the policies that read bodies on the
// way in classify them by it (the limits, to know which to hold to the JSON limits; the WAF, to
// tell a stream of messages from one document), so that a body cannot be JSON to the front and
// something else to them. The type is what precedes the first ";", without surrounding spaces and
// in any case; the parameters are not read, so a malformed one (an unterminated quote, a missing
// "=") changes nothing. Other text beside the type ("application/json charset=utf-8",
// "application/json, text/plain") makes it a type the front does not know.
func RequestBodyKind(contentType string) BodyKind {
	typ, _ := mediaType(contentType)
	const app = "application/"
	switch {
	case typ == "", strings.EqualFold(typ, contentTypeJSON):
		return BodyJSON
	case strings.EqualFold(typ, "application/x-protobuf"), strings.EqualFold(typ, "application/protobuf"):
		return BodyProto
	case strings.EqualFold(typ, contentTypeNDJSON), strings.EqualFold(typ, "application/jsonl"),
		strings.EqualFold(typ, "application/jsonlines"), strings.EqualFold(typ, "application/x-jsonlines"):
		return BodyNDJSON
	case len(typ) > len(app+"+json") && strings.EqualFold(typ[:len(app)], app) &&
		strings.EqualFold(typ[len(typ)-len("+json"):], "+json"):
		return BodyJSON
	}
	return BodyOther
}

// mediaType returns the type/subtype of a Content-Type or media range, without parameters and
// spaces; parameters in rest.
func mediaType(v string) (typ, rest string) {
	typ, rest, _ = strings.Cut(v, ";")
	return strings.TrimSpace(typ), rest
}

// requestFormat reads a unary request's Content-Type: JSON or protobuf, and whether it is either.
func requestFormat(contentType string) (format, bool) {
	switch RequestBodyKind(contentType) {
	case BodyJSON:
		return formatJSON, true
	case BodyProto:
		return formatProto, true
	}
	return formatJSON, false
}

// IsProtobuf reports whether contentType names binary protobuf (application/x-protobuf or
// application/protobuf), which the front reads as its binding's body message. Policies that read
// request bodies (the WAF) use it to tell such a body from JSON.
func IsProtobuf(contentType string) bool {
	f, ok := requestFormat(contentType)
	return ok && f == formatProto
}

// responseFormat picks the response format from the Accept header values, and the content type to
// answer with.
func responseFormat(accept []string) (format, string) {
	best, bestQ, bestType := formatJSON, -1.0, contentTypeJSON
	for typ, params := range mediaRanges(accept) {
		var f format
		var ct string
		switch {
		case strings.EqualFold(typ, "application/x-protobuf"):
			f, ct = formatProto, "application/x-protobuf"
		case strings.EqualFold(typ, "application/protobuf"):
			f, ct = formatProto, "application/protobuf"
		case strings.EqualFold(typ, contentTypeJSON), typ == "*/*", strings.EqualFold(typ, "application/*"):
			f, ct = formatJSON, contentTypeJSON
		default:
			continue
		}
		q := qValue(params)
		if q > bestQ && q > 0 {
			best, bestQ, bestType = f, q, ct
		}
	}
	return best, bestType
}

// mediaRanges yields the media ranges of Accept header values, each as its type and its
// parameters (mediaType), in order.
func mediaRanges(accept []string) iter.Seq2[string, string] {
	return func(yield func(typ, params string) bool) {
		for _, line := range accept {
			for line != "" {
				var item string
				item, line, _ = strings.Cut(line, ",")
				if !yield(mediaType(item)) {
					return
				}
			}
		}
	}
}

// qValue reads the q parameter of a media range: a decimal number from 0 to 1 ("0.5"; RFC 9110 has
// at most three decimals), or 1 when absent or unreadable. strconv alone would also read "NaN",
// which no comparison orders, and Go's other literals ("0x1p-1", "5e-1"): they are unreadable.
func qValue(params string) float64 {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			v = strings.TrimSpace(v)
			q, err := strconv.ParseFloat(v, 64)
			if err != nil || strings.Trim(v, "0123456789.") != "" || q > 1 {
				return 1
			}
			return q
		}
	}
	return 1
}
