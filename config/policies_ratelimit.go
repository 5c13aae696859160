package config

// RateLimit configures where rate-limit state lives. (Owned by the rate-limit work: fill in.)
type RateLimit struct{}

// RuleRateLimit is a rule's token bucket.
type RuleRateLimit struct{}

// RuleConcurrency is a rule's bound on calls in flight.
type RuleConcurrency struct{}

// CORS configures cross-origin resource sharing.
type CORS struct{}

func (v *validator) rateLimitStore(path string, r RateLimit)        {}
func (v *validator) ruleRateLimit(path string, r RuleRateLimit)     {}
func (v *validator) ruleConcurrency(path string, r RuleConcurrency) {}
func (v *validator) cors(path string, c CORS)                       {}
func (r *RateLimit) complete()                                      {}
func (c *CORS) complete()                                           {}
