package demo

import "github.com/protogate/gateway/config"

// demoWAF turns the web application firewall on in blocking mode for every REST and GraphQL route
// (no rule overrides the section's mode), and bounds request bodies at 10 MB on every HTTP front.
// The firewall inspects whole bodies up to the same 10 MB, so no body passes uninspected.
func demoWAF(p *config.Policies) {
	p.Limits.MaxBodyBytes = 10 * 1000 * 1000
	p.WAF.Mode = "blocking"
	p.WAF.BodyLimit = 10 * 1000 * 1000
	// The demo is reached at 127.0.0.1: CRS scores a numeric Host (rule 920350) as a warning on
	// every request, which with any other notice would block an ordinary call.
	p.WAF.ExcludeRules = []int{920350}
}
