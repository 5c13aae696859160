package config

// Limits bound what a request may carry. (Owned by the WAF and sanitization work: fill in.)
type Limits struct{}

// WAF configures the web application firewall.
type WAF struct{}

func (v *validator) limits(path string, l Limits) {}
func (v *validator) wafConfig(path string, w WAF) {}
func (l *Limits) complete()                       {}
func (w *WAF) complete()                          {}
func (w *WAF) resolvePaths(resolve func(*string)) {}
