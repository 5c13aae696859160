package transcoder

import (
	"strconv"
	"strings"
)

// Content negotiation. Request bodies are JSON (no Content-Type, application/json, or any
// application/*+json such as application/merge-patch+json) or binary protobuf
// (application/x-protobuf, application/protobuf); anything else is 415, except for google.api.HttpBody
// bodies, which take any type. Responses are JSON unless Accept prefers one of the protobuf types
// (by q-value, ties to the first listed); an Accept that allows neither still gets JSON rather than
// a 406.

type format uint8

const (
	formatJSON format = iota
	formatProto
)

const (
	contentTypeJSON = "application/json"
)

// mediaType returns the type/subtype of a Content-Type or media range, without parameters and
// spaces; parameters in rest.
func mediaType(v string) (typ, rest string) {
	typ, rest, _ = strings.Cut(v, ";")
	return strings.TrimSpace(typ), rest
}

// requestFormat reads a request's Content-Type.
func requestFormat(contentType string) (format, bool) {
	typ, _ := mediaType(contentType)
	switch {
	case typ == "", strings.EqualFold(typ, contentTypeJSON):
		return formatJSON, true
	case strings.EqualFold(typ, "application/x-protobuf"), strings.EqualFold(typ, "application/protobuf"):
		return formatProto, true
	case len(typ) > len("application/+json") && strings.EqualFold(typ[:len("application/")], "application/") &&
		strings.EqualFold(typ[len(typ)-len("+json"):], "+json"):
		return formatJSON, true
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
	for _, line := range accept {
		for line != "" {
			var item string
			item, line, _ = strings.Cut(line, ",")
			typ, params := mediaType(item)
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
	}
	return best, bestType
}

// qValue reads the q parameter of a media range (1 when absent or unreadable).
func qValue(params string) float64 {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || q < 0 || q > 1 {
				return 1
			}
			return q
		}
	}
	return 1
}
