// Package policytest helps tests of the policies read what the fronts answer.
package policytest

import (
	"encoding/json"
	"fmt"

	rpccode "google.golang.org/genproto/googleapis/rpc/code"

	"github.com/protogate/gateway/policies/policy"
)

// Refusal decodes the body of a refusal into v, a struct shaped as google.rpc.Status's JSON (code,
// message, details): the REST front's body as it is, the one error of a GraphQL response (its
// message, extensions.code and extensions.details) converted to it.
func Refusal(front policy.Front, body []byte, v any) error {
	if front == policy.FrontGraphQL {
		var gql struct {
			Errors []struct {
				Message    string
				Extensions struct {
					Code    string
					Details json.RawMessage
				}
			}
		}
		if err := json.Unmarshal(body, &gql); err != nil || len(gql.Errors) != 1 {
			return fmt.Errorf("not a GraphQL response with one error (%v): %s", err, body)
		}
		e := gql.Errors[0]
		body, _ = json.Marshal(map[string]any{"code": rpccode.Code_value[e.Extensions.Code], "message": e.Message, "details": e.Extensions.Details})
	}
	return json.Unmarshal(body, v)
}
