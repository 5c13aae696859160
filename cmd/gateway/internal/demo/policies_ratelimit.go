package demo

import (
	"time"

	"github.com/protogate/gateway/config"
)

// demoRateLimit limits CatalogService.GetProduct to 20 calls per second per client address, in
// process, and lets browser pages served from localhost call every HTTP front (gRPC-Web, REST,
// GraphQL) across origins.
func demoRateLimit(p *config.Policies) {
	p.Rules = append(p.Rules, config.PolicyRule{
		Name:      "products-20-per-second",
		Match:     config.PolicyMatch{Method: "/shop.catalog.v1.CatalogService/GetProduct"},
		RateLimit: config.RuleRateLimit{Rate: 20, Per: time.Second, Burst: 20, Key: "client_ip"},
	})
	p.CORS = config.CORS{
		AllowedOrigins: []string{"http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"},
		AllowedMethods: config.DefaultCORSAllowedMethods,
		// What gRPC-Web clients send (content-type, x-grpc-web, x-user-agent, grpc-timeout),
		// GraphQL and REST clients' JSON bodies and tokens, and tracing.
		AllowedHeaders:   config.DefaultCORSAllowedHeaders,
		ExposedHeaders:   config.DefaultCORSExposedHeaders,
		AllowCredentials: true,
		MaxAge:           config.DefaultCORSMaxAge,
	}
}
