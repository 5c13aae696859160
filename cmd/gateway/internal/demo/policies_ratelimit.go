package demo

import "github.com/protogate/gateway/config"

// demoRateLimit sets the demo's ratelimit policies. (To be filled in by the ratelimit work.)
func demoRateLimit(p *config.Policies) {}
