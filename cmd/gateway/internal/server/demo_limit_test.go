package server_test

import (
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/config"
)

// TestDemoRateLimitEndToEnd: the demo's own rule, as `gateway demo` serves it, admits no more of a
// burst of GetProduct calls from one client than its bucket allows (20, plus 20 per second of the
// burst's duration), and refuses the rest with 429.
func TestDemoRateLimitEndToEnd(t *testing.T) {
	p := demo.Policies()
	p.AccessLog.Output = config.AccessLogOff
	p.WAF.Mode = "off" // the firewall is the slow part under the race detector; this test is about the limit
	p = p.Completed()
	g := startGateway(t, harnessOptions{
		policies: &p,
	})
	c := newRESTClient(g)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 15 {
				r := c.do(t, http.MethodGet, "/v1/products/p1", "")
				mu.Lock()
				codes[r.status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if allowed := 20 + int(math.Ceil(elapsed.Seconds()*20)); codes[http.StatusOK] > allowed {
		t.Errorf("statuses %v in %s: more than %d admitted", codes, elapsed, allowed)
	}
	if codes[http.StatusOK]+codes[http.StatusTooManyRequests] != 60 {
		t.Errorf("statuses %v: want only 200 and 429", codes)
	}
	if elapsed < 2*time.Second && codes[http.StatusTooManyRequests] == 0 {
		t.Errorf("statuses %v in %s: no call refused", codes, elapsed)
	}
}
