package ratelimit

// Keys returns the number of buckets and counters the limiter holds, for tests of its bounds.
func (l *Limiter) Keys() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, t := range l.buckets {
		n += t.len()
	}
	for _, t := range l.counters {
		n += t.len()
	}
	return n
}
