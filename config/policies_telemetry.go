package config

// Tracing configures OpenTelemetry tracing. (Owned by the telemetry work: fill in.)
type Tracing struct{}

// Metrics configures the Prometheus metrics.
type Metrics struct{}

// AccessLog configures the access log.
type AccessLog struct{}

func (v *validator) tracing(path string, t Tracing)     {}
func (v *validator) metrics(path string, m Metrics)     {}
func (v *validator) accessLog(path string, a AccessLog) {}
func (t *Tracing) complete()                            {}
func (m *Metrics) complete()                            {}
func (a *AccessLog) complete()                          {}
func (a *AccessLog) resolvePaths(resolve func(*string)) {}
