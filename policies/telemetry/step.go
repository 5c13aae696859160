package telemetry

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
)

// admit is the telemetry Step: it records the admitted call's method and consumer in the request's
// Info, and names the request's server span for the method. It never refuses a call.
func (t *Telemetry) admit(c *policy.Call) error {
	info := callinfo.From(c.Ctx)
	consumer := ""
	if c.Identity != nil {
		consumer = c.Identity.Consumer
	}
	first := info.Admit(c.Method, consumer)
	span := trace.SpanFromContext(c.Ctx)
	if !span.IsRecording() {
		return nil
	}
	if first && c.Front != policy.FrontGraphQL {
		// On GraphQL the span in c.Ctx is the field's: it is named for its method already.
		span.SetName(spanName(string(c.Front), c.Method))
		span.SetAttributes(attribute.String("rpc.method", c.Method))
	}
	if consumer != "" {
		span.SetAttributes(attribute.String("gateway.consumer", consumer))
	}
	return nil
}
