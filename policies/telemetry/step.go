package telemetry

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
)

// admit is the telemetry Step: it records the admitted call's method and consumer in the request's
// Info, from which the request's server span is named and described when the request ends; a
// GraphQL field's span gets the consumer now. It never refuses a call.
func (t *Telemetry) admit(c *policy.Call) error {
	info := callinfo.From(c.Ctx)
	consumer := ""
	if c.Identity != nil {
		consumer = c.Identity.Consumer
	}
	info.Admit(c.Method, consumer)
	if c.Unregistered {
		info.Unregistered()
	}
	if consumer == "" || c.Front != policy.FrontGraphQL {
		// The request's server span is named for its method, and given the consumer, when the
		// request ends, from what info recorded.
		return nil
	}
	// On GraphQL the span in c.Ctx is the field's, named for its method already.
	if span := trace.SpanFromContext(c.Ctx); span.IsRecording() {
		span.SetAttributes(attribute.String("gateway.consumer", consumer))
	}
	return nil
}
