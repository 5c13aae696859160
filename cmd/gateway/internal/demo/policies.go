package demo

import "github.com/protogate/gateway/config"

// Policies are the policies the demo turns on, so a newcomer sees each of them at work. Each part is
// set in its own file.
func Policies() config.Policies {
	var p config.Policies
	demoAuth(&p)
	demoRateLimit(&p)
	demoWAF(&p)
	demoTelemetry(&p)
	return p
}
