package demo

import "github.com/protogate/gateway/config"

// demoTelemetry sets the demo's telemetry policies. (To be filled in by the telemetry work.)
func demoTelemetry(p *config.Policies) {}
