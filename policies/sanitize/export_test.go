package sanitize

import "time"

// SetBodyReadTime sets how long a JSON body may take (bodyReadTime, and no allowance per byte), and
// returns the function that restores it.
func SetBodyReadTime(d time.Duration) (restore func()) {
	t, r := bodyReadTime, bodyReadRate
	bodyReadTime, bodyReadRate = d, 1<<62
	return func() { bodyReadTime, bodyReadRate = t, r }
}
