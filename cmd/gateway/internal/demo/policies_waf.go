package demo

import "github.com/protogate/gateway/config"

// demoWAF sets the demo's waf policies. (To be filled in by the waf work.)
func demoWAF(p *config.Policies) {}
