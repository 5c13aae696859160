package auth_test

import "github.com/protogate/gateway/policies/policy"

// resetCall makes c ready to be admitted again, as a fresh call with the same metadata would be.
func resetCall(c *policy.Call) *policy.Call {
	*c = policy.Call{Ctx: c.Ctx, Method: c.Method, Front: c.Front, MD: c.MD, Peer: c.Peer, Cost: c.Cost}
	return c
}
