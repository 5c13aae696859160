package conformance_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// difference is a way the gateway may answer differently from grpc-gateway. The intentional ones
// are in the README's "Differences from grpc-gateway"; transport-message is timing, not design.
type difference struct {
	reason string
	// check returns nil when the answers differ exactly as documented. A case marked with a
	// difference its fronts do not show fails too: the table must not outlive the difference.
	check func(c *testCase, ours, theirs *response) error
}

// The keys of differences.
const (
	diffMethodNotAllowed = "405"
	diffUnknownField     = "unknown-field"
	diffContentType      = "415"
	diffBodyLimit        = "413"
	diffOwnMessage       = "own-message"
	diffProtobuf         = "protobuf-response"
	diffMetadataHeaders  = "grpc-metadata-headers"
	diffFieldMaskJSON    = "fieldmask-json-names"
	diffTransport        = "transport-message"
	diffEncodedSlash     = "encoded-slash"
	diffEmptySegment     = "empty-segment"
	diffEnumNumber       = "enum-number"
	diffTrailingData     = "trailing-data"
	diffFormFallback     = "form-fallback"
	diffStreamError      = "stream-error-envelope"
	diffStreamType       = "stream-content-type"
)

var differences = map[string]difference{
	diffMethodNotAllowed: {
		reason: "a known path called with a method it does not serve is 405 Method Not Allowed with an Allow " +
			"header, where grpc-gateway's default routing error handler answers 501 Not Implemented; both carry " +
			"code UNIMPLEMENTED",
		check: func(_ *testCase, ours, theirs *response) error {
			o, t, err := statuses(ours, theirs)
			if err != nil {
				return err
			}
			switch {
			case ours.status != http.StatusMethodNotAllowed || ours.header.Get("Allow") == "":
				return fmt.Errorf("gateway: want 405 with Allow, got %d Allow %q", ours.status, ours.header.Get("Allow"))
			case theirs.status != http.StatusNotImplemented:
				return fmt.Errorf("grpc-gateway: want 501, got %d", theirs.status)
			case o.code != int64(codes.Unimplemented) || t.code != int64(codes.Unimplemented):
				return fmt.Errorf("want code UNIMPLEMENTED from both, got %d and %d", o.code, t.code)
			}
			return nil
		},
	},
	diffUnknownField: {
		reason: "a JSON body with a field the request message does not have is refused with 400 naming the " +
			"field (a misspelt field is a client bug, not a no-op), where grpc-gateway's default marshaler " +
			"drops unknown fields; transcoder.WithDiscardUnknown restores grpc-gateway's behaviour",
		check: func(c *testCase, ours, theirs *response) error {
			if err := ownBadRequest(c, ours); err != nil {
				return err
			}
			if theirs.status == http.StatusBadRequest {
				return fmt.Errorf("grpc-gateway refused the unknown field too (%d): drop the difference", theirs.status)
			}
			return nil
		},
	},
	diffContentType: {
		reason: "a body that is neither JSON nor protobuf (by Content-Type) is refused with 415, where grpc-gateway " +
			"decodes any body whose type has no registered marshaler as JSON",
		check: func(_ *testCase, ours, theirs *response) error {
			o, err := statusOf(ours)
			if err != nil {
				return err
			}
			if ours.status != http.StatusUnsupportedMediaType || o.code != int64(codes.InvalidArgument) {
				return fmt.Errorf("gateway: want 415 INVALID_ARGUMENT, got %d code %d", ours.status, o.code)
			}
			if theirs.status != http.StatusOK {
				return fmt.Errorf("grpc-gateway: want the body decoded as JSON (200), got %d", theirs.status)
			}
			return nil
		},
	},
	diffBodyLimit: {
		reason: "a body over the limit (4 MiB by default) is refused with 413 before it is read, where grpc-gateway " +
			"has no limit: it decodes the body and the upstream refuses the message (RESOURCE_EXHAUSTED, 429)",
		check: func(_ *testCase, ours, theirs *response) error {
			o, t, err := statuses(ours, theirs)
			if err != nil {
				return err
			}
			switch {
			case ours.status != http.StatusRequestEntityTooLarge || o.code != int64(codes.ResourceExhausted):
				return fmt.Errorf("gateway: want 413 RESOURCE_EXHAUSTED, got %d code %d", ours.status, o.code)
			case theirs.status != http.StatusTooManyRequests || t.code != int64(codes.ResourceExhausted):
				return fmt.Errorf("grpc-gateway: want 429 RESOURCE_EXHAUSTED, got %d code %d", theirs.status, t.code)
			}
			return nil
		},
	},
	diffOwnMessage: {
		reason: "errors the gateway finds itself (no route, a body or parameter that does not decode, a bad " +
			"Grpc-Timeout) have the same HTTP status and code as grpc-gateway's, in the gateway's own words, and " +
			"those about a field carry a google.rpc.BadRequest detail naming it",
		check: func(c *testCase, ours, theirs *response) error {
			o, t, err := statuses(ours, theirs)
			if err != nil {
				return err
			}
			if ours.status != theirs.status || o.code != t.code {
				return fmt.Errorf("want the same status and code, got gateway %d code %d, grpc-gateway %d code %d", ours.status, o.code, theirs.status, t.code)
			}
			if ours.status == http.StatusBadRequest {
				return ownBadRequest(c, ours)
			}
			return nil
		},
	},
	diffMetadataHeaders: {
		reason: "request headers Grpc-Metadata-<Key> pass to the upstream as metadata <key>, grpc-gateway's " +
			"convention before v2.33 (now its LegacyHeaderMatcher); v2.33's default forwards only the permanent " +
			"HTTP headers, so the upstream never sees the key (here: it echoes no x-request-id)",
		check: func(_ *testCase, ours, theirs *response) error {
			if got := ours.header.Get("Grpc-Metadata-X-Request-Id"); got == "" {
				return errors.New("gateway: the upstream did not echo x-request-id")
			}
			if got := theirs.header.Get("Grpc-Metadata-X-Request-Id"); got != "" {
				return fmt.Errorf("grpc-gateway forwarded the header too (%q): drop the difference", got)
			}
			theirs = withHeader(theirs, "Grpc-Metadata-X-Request-Id", ours.header.Get("Grpc-Metadata-X-Request-Id"))
			return agree(ours, theirs)
		},
	},
	diffFieldMaskJSON: {
		reason: "a FieldMask query parameter takes its paths in proto or JSON (lowerCamelCase) names, as the " +
			"FieldMask's JSON form does; grpc-gateway passes the text through, so the upstream sees \"updatedAt\" " +
			"and refuses it",
		check: func(_ *testCase, ours, theirs *response) error {
			t, err := statusOf(theirs)
			if err != nil {
				return err
			}
			if ours.status != http.StatusOK {
				return fmt.Errorf("gateway: want 200, got %d", ours.status)
			}
			if theirs.status != http.StatusBadRequest || t.code != int64(codes.InvalidArgument) {
				return fmt.Errorf("grpc-gateway: want the upstream's 400, got %d code %d", theirs.status, t.code)
			}
			return nil
		},
	},
	diffTransport: {
		reason: "a call that fails in the transport (upstream unreachable: 503 UNAVAILABLE; deadline expired " +
			"in flight: 504 DEADLINE_EXCEEDED) has the same status and code on both; the message is the " +
			"transport's account of the failure (reset, broken pipe, RST_STREAM, context deadline), which " +
			"depends on timing",
		check: func(_ *testCase, ours, theirs *response) error {
			o, t, err := statuses(ours, theirs)
			if err != nil {
				return err
			}
			if ours.status != theirs.status || o.code != t.code ||
				(o.code != int64(codes.Unavailable) && o.code != int64(codes.DeadlineExceeded)) {
				return fmt.Errorf("want the same 503 UNAVAILABLE or 504 DEADLINE_EXCEEDED from both, got gateway %d code %d, grpc-gateway %d code %d", ours.status, o.code, theirs.status, t.code)
			}
			return nil
		},
	},
	diffEncodedSlash: {
		reason: "a path with an escaped slash (%2F) is refused with 400 by the default request sanitization " +
			"(policies/sanitize: it is ambiguous between a separator and data); grpc-gateway's default unescaping " +
			"mode decodes the path before matching, so the path has one segment too many and matches no route (404)",
		check: func(c *testCase, ours, theirs *response) error {
			if err := ownBadRequest(c, ours); err != nil {
				return err
			}
			t, err := statusOf(theirs)
			if err != nil {
				return err
			}
			if theirs.status != http.StatusNotFound || t.code != int64(codes.NotFound) {
				return fmt.Errorf("grpc-gateway: want 404 NOT_FOUND, got %d code %d", theirs.status, t.code)
			}
			return nil
		},
	},
	diffEmptySegment: {
		reason: "an empty path segment binds no variable: GET /v1/users/ is 404 (no route), where grpc-gateway " +
			"calls GetUser with an empty id (the upstream's 400)",
		check: func(_ *testCase, ours, theirs *response) error {
			o, t, err := statuses(ours, theirs)
			if err != nil {
				return err
			}
			if ours.status != http.StatusNotFound || o.code != int64(codes.NotFound) {
				return fmt.Errorf("gateway: want 404 NOT_FOUND, got %d code %d", ours.status, o.code)
			}
			if theirs.status != http.StatusBadRequest || t.code != int64(codes.InvalidArgument) {
				return fmt.Errorf("grpc-gateway: want the upstream's 400, got %d code %d", theirs.status, t.code)
			}
			return nil
		},
	},
	diffEnumNumber: {
		reason: "an enum query parameter given as a number the registered enum does not list is passed on, as " +
			"protojson (and grpc-gateway, for bodies) does for open enums: the upstream may know values its " +
			"registered descriptor does not yet; grpc-gateway refuses it in the query with 400",
		check: func(_ *testCase, ours, theirs *response) error {
			t, err := statusOf(theirs)
			if err != nil {
				return err
			}
			if ours.status != http.StatusOK {
				return fmt.Errorf("gateway: want 200, got %d", ours.status)
			}
			if theirs.status != http.StatusBadRequest || t.code != int64(codes.InvalidArgument) {
				return fmt.Errorf("grpc-gateway: want 400, got %d code %d", theirs.status, t.code)
			}
			return nil
		},
	},
	diffTrailingData: {
		reason: "a JSON body must be one JSON value: data after it is refused with 400, where grpc-gateway " +
			"decodes the first value and drops the rest",
		check: func(c *testCase, ours, theirs *response) error {
			if err := ownBadRequest(c, ours); err != nil {
				return err
			}
			if theirs.status != http.StatusOK {
				return fmt.Errorf("grpc-gateway: want 200 (the first value decoded), got %d", theirs.status)
			}
			return nil
		},
	},
	diffFormFallback: {
		reason: "a form POST (application/x-www-form-urlencoded) on a path only GET serves is 405, where " +
			"grpc-gateway's path length fallback serves it as the GET, the form's fields as its query: a request " +
			"means what its method says to every hop",
		check: func(_ *testCase, ours, theirs *response) error {
			o, err := statusOf(ours)
			if err != nil {
				return err
			}
			if ours.status != http.StatusMethodNotAllowed || o.code != int64(codes.Unimplemented) {
				return fmt.Errorf("gateway: want 405 UNIMPLEMENTED, got %d code %d", ours.status, o.code)
			}
			if theirs.status != http.StatusOK {
				return fmt.Errorf("grpc-gateway: want the GET served (200), got %d", theirs.status)
			}
			return nil
		},
	},
	diffStreamError: {
		reason: "a server stream that fails before its first message is answered as any failed call, a bare " +
			"google.rpc.Status, where grpc-gateway wraps the same status in its stream envelope, " +
			"{\"error\": ...} and a newline; the HTTP status is the same",
		check: func(_ *testCase, ours, theirs *response) error {
			o, err := statusOf(ours)
			if err != nil {
				return err
			}
			m, _ := theirs.json.(map[string]any)
			t, err := statusOf(&response{status: theirs.status, body: theirs.body, json: m["error"]})
			if err != nil {
				return fmt.Errorf("grpc-gateway: not {\"error\": <status>}: %w", err)
			}
			if ours.status != theirs.status || o.code != t.code || o.message != t.message {
				return fmt.Errorf("want the same status, code and message, got gateway %d %d %q, grpc-gateway %d %d %q",
					ours.status, o.code, o.message, theirs.status, t.code, t.message)
			}
			return nil
		},
	},
	diffStreamType: {
		reason: "a stream's lines are application/x-ndjson, where grpc-gateway labels the same lines " +
			"application/json (its marshaler's type), which a client honouring it fails to read past the first",
		check: func(_ *testCase, ours, theirs *response) error {
			if ct := ours.header.Get("Content-Type"); ours.status != http.StatusOK || ct != "application/x-ndjson" {
				return fmt.Errorf("gateway: want 200 application/x-ndjson, got %d %q", ours.status, ct)
			}
			if ct := theirs.header.Get("Content-Type"); theirs.status != http.StatusOK || ct != "application/json" {
				return fmt.Errorf("grpc-gateway: want 200 application/json, got %d %q", theirs.status, ct)
			}
			if !bytes.Equal(ours.body, theirs.body) {
				return fmt.Errorf("the lines differ:\n  gateway      %s\n  grpc-gateway %s", clip(ours.body), clip(theirs.body))
			}
			return nil
		},
	},
	diffProtobuf: {
		reason: "a client whose Accept prefers application/x-protobuf gets binary protobuf, where grpc-gateway " +
			"(no marshaler registered for it) answers JSON",
		check: func(c *testCase, ours, theirs *response) error {
			if ct := ours.header.Get("Content-Type"); ours.status != http.StatusOK || ct != "application/x-protobuf" {
				return fmt.Errorf("gateway: want 200 application/x-protobuf, got %d %q", ours.status, ct)
			}
			if ct := theirs.header.Get("Content-Type"); theirs.status != http.StatusOK || ct != "application/json" {
				return fmt.Errorf("grpc-gateway: want 200 application/json, got %d %q", theirs.status, ct)
			}
			o, g := c.resp.ProtoReflect().New().Interface(), c.resp.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(ours.body, o); err != nil {
				return fmt.Errorf("gateway: %v", err)
			}
			if err := protojson.Unmarshal(theirs.body, g); err != nil {
				return fmt.Errorf("grpc-gateway: %v", err)
			}
			if !proto.Equal(o, g) {
				return fmt.Errorf("different messages:\n  gateway      %v\n  grpc-gateway %v", o, g)
			}
			return nil
		},
	},
}

// withHeader returns a copy of r with one more header.
func withHeader(r *response, name, value string) *response {
	c := *r
	c.header = r.header.Clone()
	c.header.Set(name, value)
	return &c
}

func statuses(ours, theirs *response) (o, t statusBody, err error) {
	o, err1 := statusOf(ours)
	t, err2 := statusOf(theirs)
	return o, t, errors.Join(err1, err2)
}

// ownBadRequest checks that the gateway refused c with 400 INVALID_ARGUMENT and a BadRequest
// detail naming c.field.
func ownBadRequest(c *testCase, ours *response) error {
	o, err := statusOf(ours)
	if err != nil {
		return err
	}
	if ours.status != http.StatusBadRequest || o.code != int64(codes.InvalidArgument) {
		return fmt.Errorf("gateway: want 400 INVALID_ARGUMENT, got %d code %d", ours.status, o.code)
	}
	field, ok := o.violationField()
	if !ok {
		return fmt.Errorf("gateway: no google.rpc.BadRequest detail in %s", clip(ours.body))
	}
	if field != c.field {
		return fmt.Errorf("gateway: BadRequest names field %q, want %q", field, c.field)
	}
	return nil
}
