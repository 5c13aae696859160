package bench

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Call is one request of a load: worker is the index of the caller, from 0 to Concurrency-1, for
// spreading workers over connections.
type Call func(ctx context.Context, worker int) error

// Load is a closed-loop load: Concurrency workers each make one call after another for Duration.
type Load struct {
	Concurrency int
	Duration    time.Duration
	// Grace bounds how long a call still in flight at the end may take before it is cancelled; the
	// default is 10 s. Such calls are not counted either way.
	Grace time.Duration
}

// Result is what a load measured. Only calls that started and ended within the window count.
type Result struct {
	Calls     int             // successful calls
	Errors    int             // failed calls
	FirstErr  error           // the first failure seen, if any
	Elapsed   time.Duration   // the measuring window
	Latencies []time.Duration // of the successful calls, sorted
}

// Rate returns successful calls per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Calls) / r.Elapsed.Seconds()
}

// Percentile returns the p-quantile (0 < p <= 1) of the latencies by nearest rank, or 0 without calls.
func (r Result) Percentile(p float64) time.Duration { return percentile(r.Latencies, p) }

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// worker is the private record of one worker; each is written by its goroutine only.
type worker struct {
	lat      []time.Duration
	errors   int
	firstErr error
}

// maxRateHint is a generous bound on the call rate one machine reaches; it sizes the latency buffers
// so that recording never allocates in the measuring window at realistic rates.
const maxRateHint = 80_000

// Run applies the load until Duration has passed or ctx ends, and returns what it measured.
func (l Load) Run(ctx context.Context, call Call) Result {
	n := max(l.Concurrency, 1)
	grace := l.Grace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	hint := int(min(l.Duration.Seconds()*maxRateHint/float64(n), 1<<20)) + 64
	workers := make([]worker, n)
	for i := range workers {
		workers[i].lat = make([]time.Duration, 0, hint)
	}

	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		end   time.Time // written before start is closed
	)
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range workers {
		wg.Go(func() {
			w := &workers[i]
			<-start
			for callCtx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				err := call(callCtx, i)
				d := time.Since(t0)
				if t0.Add(d).After(end) {
					return // ended outside the window
				}
				if err != nil {
					if w.errors == 0 {
						w.firstErr = err
					}
					w.errors++
					continue
				}
				w.lat = append(w.lat, d)
			}
		})
	}
	t0 := time.Now()
	end = t0.Add(l.Duration)
	stop := time.AfterFunc(l.Duration+grace, cancel)
	defer stop.Stop()
	close(start)
	wg.Wait()

	res := Result{Elapsed: min(time.Since(t0), l.Duration)}
	total := 0
	for i := range workers {
		total += len(workers[i].lat)
	}
	res.Latencies = make([]time.Duration, 0, total)
	for i := range workers {
		w := &workers[i]
		res.Latencies = append(res.Latencies, w.lat...)
		res.Errors += w.errors
		if res.FirstErr == nil {
			res.FirstErr = w.firstErr
		}
	}
	res.Calls = len(res.Latencies)
	slices.Sort(res.Latencies)
	return res
}

// median returns the median of xs (the mean of the middle two for an even count), or NaN when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
