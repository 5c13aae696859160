package sanitize

import (
	"time"

	"github.com/protogate/gateway/routing"
)

// SetBodyReadTime sets how long a body may take to arrive: base, plus a second per perSecond bytes
// it announced (bodyReadTime); it returns the function that restores it.
func SetBodyReadTime(base time.Duration, perSecond int64) (restore func()) {
	t := bodyReadTime
	bodyReadTime = routing.ReadTime{Base: base, PerSecond: perSecond}
	return func() { bodyReadTime = t }
}
