package auth

import "time"

// WithStartWait sets how long New waits for the key sets it fetches from URLs (tests; the default
// is jwksFetchTimeout).
func WithStartWait(d time.Duration) Option { return func(o *options) { o.startWait = d } }
