package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Figures are what one phase measured on one target: in one round, or the medians over the rounds
// (Round 0). Rates are per second of Unit ("req" or "MiB"); CPU figures are microseconds of CPU
// (user + system) per Unit, of the process in the middle (a gateway or nginx), of the
// backend, and of the load generator.
type Figures struct {
	Phase      string  `json:"phase"`
	Target     string  `json:"target"`
	Round      int     `json:"round,omitempty"`
	Unit       string  `json:"unit"`
	Rate       float64 `json:"rate_per_s"`
	Count      float64 `json:"count"`
	Seconds    float64 `json:"seconds"`
	P50us      float64 `json:"p50_us,omitempty"`
	P99us      float64 `json:"p99_us,omitempty"`
	MiddleCPU  float64 `json:"middle_cpu_us_per_unit,omitempty"`
	BackendCPU float64 `json:"backend_cpu_us_per_unit"`
	ClientCPU  float64 `json:"client_cpu_us_per_unit"`
	Errors     int     `json:"errors,omitempty"`
	FirstError string  `json:"first_error,omitempty"`
}

// Goal is one line the issue asks for: a figure of the gateway against a baseline measured in the same
// run, taken in each round and reported as the median over rounds. Without a threshold it is
// informational.
type Goal struct {
	Name      string    `json:"name"`
	Value     float64   `json:"value"`
	Unit      string    `json:"unit"` // "x" (a ratio) or "us"
	Op        string    `json:"op,omitempty"`
	Threshold float64   `json:"threshold,omitempty"`
	Status    string    `json:"status"` // PASS, MISS, INFO or SKIP
	Why       string    `json:"why,omitempty"`
	Rounds    []float64 `json:"rounds,omitempty"`
}

// Config is the part of Options a report records.
type Config struct {
	Duration    string `json:"duration"`
	Warmup      string `json:"warmup"`
	Rounds      int    `json:"rounds"`
	Concurrency int    `json:"concurrency"`
	Conns       int    `json:"conns"`
	Streams     int    `json:"streams"`
	MessageSize int    `json:"message_size"`
	PerCall     int    `json:"messages_per_call"`
	ClockTicks  int    `json:"clock_ticks"`
	Nginx       string `json:"nginx"`    // "measured", or why not
	Policies    string `json:"policies"` // "measured", or why not
}

// Report is the outcome of a run.
type Report struct {
	Config  Config    `json:"config"`
	Targets []string  `json:"targets"`
	Medians []Figures `json:"medians"`
	Goals   []Goal    `json:"goals"`
	Samples []Figures `json:"samples"`
}

var phaseOrder = []string{PhaseUnary, PhaseLatency, PhaseDownload, PhaseUpload}

func newReport(o Options, hz int, targets []string, nginxErr error, samples []Figures) *Report {
	rep := &Report{
		Config: Config{
			Duration: o.Duration.String(), Warmup: o.Warmup.String(), Rounds: o.Rounds,
			Concurrency: o.Concurrency, Conns: o.Conns, Streams: o.Streams,
			MessageSize: o.MessageSize, PerCall: o.PerCall, ClockTicks: hz,
			Nginx: "measured", Policies: "measured",
		},
		Targets: targets,
		Samples: samples,
	}
	skipped := map[string]string{} // why a target is not measured, if it is not
	if nginxErr != nil {
		rep.Config.Nginx = nginxErr.Error()
		skipped[Nginx] = rep.Config.Nginx
	}
	if o.SkipPolicies {
		rep.Config.Policies = "skipped (--skip-policies)"
		skipped[Policies] = rep.Config.Policies
	}
	for _, ph := range phaseOrder {
		for _, t := range targets {
			if f, ok := medianOf(samples, ph, t); ok {
				rep.Medians = append(rep.Medians, f)
			}
		}
	}
	rep.Goals = goals(samples, o.Rounds, skipped)
	return rep
}

// medianOf returns the median of every figure of one phase on one target over the rounds.
func medianOf(samples []Figures, phase, target string) (Figures, bool) {
	var rs []Figures
	for _, s := range samples {
		if s.Phase == phase && s.Target == target {
			rs = append(rs, s)
		}
	}
	if len(rs) == 0 {
		return Figures{}, false
	}
	m := func(get func(Figures) float64) float64 {
		xs := make([]float64, len(rs))
		for i, f := range rs {
			xs[i] = get(f)
		}
		return median(xs)
	}
	f := Figures{
		Phase: phase, Target: target, Unit: rs[0].Unit,
		Rate:       m(func(f Figures) float64 { return f.Rate }),
		Count:      m(func(f Figures) float64 { return f.Count }),
		Seconds:    m(func(f Figures) float64 { return f.Seconds }),
		P50us:      m(func(f Figures) float64 { return f.P50us }),
		P99us:      m(func(f Figures) float64 { return f.P99us }),
		MiddleCPU:  m(func(f Figures) float64 { return f.MiddleCPU }),
		BackendCPU: m(func(f Figures) float64 { return f.BackendCPU }),
		ClientCPU:  m(func(f Figures) float64 { return f.ClientCPU }),
	}
	for _, r := range rs {
		f.Errors += r.Errors
		if f.FirstError == "" {
			f.FirstError = r.FirstError
		}
	}
	return f, true
}

// perRound returns, for each round where both were measured, f(a, b) of one phase on two targets.
func perRound(samples []Figures, rounds int, phase, a, b string, f func(a, b Figures) float64) []float64 {
	var out []float64
	for round := 1; round <= rounds; round++ {
		var fa, fb *Figures
		for i := range samples {
			s := &samples[i]
			if s.Round != round || s.Phase != phase {
				continue
			}
			switch s.Target {
			case a:
				fa = s
			case b:
				fb = s
			}
		}
		if fa != nil && fb != nil {
			out = append(out, f(*fa, *fb))
		}
	}
	return out
}

func rateRatio(a, b Figures) float64 {
	if b.Rate == 0 {
		return 0
	}
	return a.Rate / b.Rate
}

// middleCPURatio is the CPU the process in the middle spends per unit through a over that through b.
func middleCPURatio(a, b Figures) float64 {
	if b.MiddleCPU == 0 {
		return 0
	}
	return a.MiddleCPU / b.MiddleCPU
}

func addedP50(a, b Figures) float64 { return a.P50us - b.P50us }

// goals computes the goal lines; skipped says why a target was not measured, if it was not.
func goals(samples []Figures, rounds int, skipped map[string]string) []Goal {
	mk := func(name, unit, op string, threshold float64, phase, a, b string, f func(a, b Figures) float64) Goal {
		g := Goal{Name: name, Unit: unit, Op: op, Threshold: threshold, Status: "INFO"}
		g.Rounds = perRound(samples, rounds, phase, a, b, f)
		if len(g.Rounds) == 0 {
			g.Status = "SKIP"
			for _, t := range []string{a, b} {
				if why, ok := skipped[t]; ok {
					g.Why = t + " " + why
					break
				}
			}
			return g
		}
		g.Value = median(g.Rounds)
		switch op {
		case ">=":
			g.Status = passMiss(g.Value >= threshold)
		case "<=":
			g.Status = passMiss(g.Value <= threshold)
		}
		return g
	}
	return []Goal{
		mk("gateway/direct unary throughput", "x", ">=", 0.45, PhaseUnary, Gateway, Direct, rateRatio),
		mk("gateway/nginx unary throughput", "x", ">=", 1.0, PhaseUnary, Gateway, Nginx, rateRatio),
		mk("added p50 at 1 in flight (gateway - direct)", "us", "<=", 100, PhaseLatency, Gateway, Direct, addedP50),
		mk("gateway/direct server->client MiB/s", "x", ">=", 0.8, PhaseDownload, Gateway, Direct, rateRatio),
		mk("gateway/direct client->server MiB/s", "x", ">=", 0.8, PhaseUpload, Gateway, Direct, rateRatio),
		mk("policies/gateway unary throughput", "x", ">=", 0.90, PhaseUnary, Policies, Gateway, rateRatio),
		mk("policies/gateway middle CPU per unary request", "x", "", 0, PhaseUnary, Policies, Gateway, middleCPURatio),
		mk("added p50 at 1 in flight (policies - gateway)", "us", "", 0, PhaseLatency, Policies, Gateway, addedP50),
		mk("nginx/direct unary throughput", "x", "", 0, PhaseUnary, Nginx, Direct, rateRatio),
		mk("added p50 at 1 in flight (nginx - direct)", "us", "", 0, PhaseLatency, Nginx, Direct, addedP50),
	}
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// title heads a phase's table.
func (c Config) title(phase string) string {
	switch phase {
	case PhaseUnary:
		return fmt.Sprintf("unary GetUser, %d in flight over %d connections", c.Concurrency, c.Conns)
	case PhaseLatency:
		return "unary GetUser, 1 in flight (latency)"
	case PhaseDownload:
		return fmt.Sprintf("server->client streaming (StreamingOutputCall), %d streams, %d KiB messages", c.Streams, c.MessageSize>>10)
	case PhaseUpload:
		return fmt.Sprintf("client->server streaming (StreamingInputCall), %d streams, %d KiB messages", c.Streams, c.MessageSize>>10)
	}
	return phase
}

// WriteText writes the report as tables and goal lines.
func (rep *Report) WriteText(w io.Writer) error {
	c := rep.Config
	var b strings.Builder
	fmt.Fprintf(&b, "gateway bench: %d rounds x %s per target (warm-up %s before each), targets interleaved; medians over rounds\n",
		c.Rounds, c.Duration, c.Warmup)
	fmt.Fprintf(&b, "CPU: utime+stime from /proc/PID/stat (CLK_TCK %d), microseconds per request or per MiB; middle = the target's gateway or nginx process\n", c.ClockTicks)
	if c.Policies == "measured" {
		fmt.Fprintf(&b, "policies = a second gateway with the demo's policy chain, WAF off; every target gets the same token and x-request-id\n")
	} else {
		fmt.Fprintf(&b, "policies: %s\n", c.Policies)
	}
	if c.Nginx != "measured" {
		fmt.Fprintf(&b, "nginx: %s\n", c.Nginx)
	}
	for _, ph := range phaseOrder {
		var rows []Figures
		for _, f := range rep.Medians {
			if f.Phase == ph {
				rows = append(rows, f)
			}
		}
		if len(rows) == 0 {
			continue
		}
		var direct float64
		for _, f := range rows {
			if f.Target == Direct {
				direct = f.Rate
			}
		}
		fmt.Fprintf(&b, "\n%s\n", c.title(ph))
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		unit := rows[0].Unit
		if unit == "req" {
			fmt.Fprintf(tw, "target\treq/s\tvs direct\tp50\tp99\tmiddle CPU us/req\tbackend CPU us/req\tclient CPU us/req\terrors\t\n")
		} else {
			fmt.Fprintf(tw, "target\tMiB/s\tvs direct\tmiddle CPU us/MiB\tbackend CPU us/MiB\tclient CPU us/MiB\terrors\t\n")
		}
		for _, f := range rows {
			vs := "-"
			if direct > 0 {
				vs = fmt.Sprintf("%.2fx", f.Rate/direct)
			}
			middle := "-"
			if f.Target != Direct {
				middle = fmt.Sprintf("%.1f", f.MiddleCPU)
			}
			if unit == "req" {
				fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%d\t\n", f.Target, f.Rate, vs,
					fmtMicros(f.P50us), fmtMicros(f.P99us), middle, f.BackendCPU, f.ClientCPU, f.Errors)
			} else {
				fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%.1f\t%.1f\t%d\t\n", f.Target, f.Rate, vs, middle, f.BackendCPU, f.ClientCPU, f.Errors)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, f := range rows {
			if f.FirstError != "" {
				fmt.Fprintf(&b, "  %s: first error: %s\n", f.Target, f.FirstError)
			}
		}
	}
	fmt.Fprintf(&b, "\ngoals (each taken within a round, then the median over rounds)\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, g := range rep.Goals {
		value, goal, rounds := "-", "", ""
		if g.Status != "SKIP" {
			value = g.format(g.Value)
			parts := make([]string, len(g.Rounds))
			for i, v := range g.Rounds {
				parts[i] = g.format(v)
			}
			rounds = "rounds: " + strings.Join(parts, " ")
		}
		if g.Op != "" {
			goal = fmt.Sprintf("goal %s %s", g.Op, fmtGoal(g.Threshold, g.Unit))
		}
		if g.Why != "" {
			rounds = g.Why
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", g.Status, g.Name, value, goal, rounds)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as indented JSON to path.
func (rep *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func fmtMicros(us float64) string {
	if math.IsNaN(us) || us <= 0 {
		return "-"
	}
	d := time.Duration(us * float64(time.Microsecond))
	if d < time.Millisecond {
		return fmt.Sprintf("%.0fus", us)
	}
	return fmt.Sprintf("%.2fms", us/1000)
}

// format renders one of the goal's figures: a ratio that two places would round to the threshold
// gets a third, so that it never reads as the threshold from the wrong side of it.
func (g Goal) format(v float64) string {
	if g.Unit == "x" && g.Op != "" && v != g.Threshold && math.Abs(v-g.Threshold) < 0.005 {
		return fmt.Sprintf("%.3fx", v)
	}
	return fmtGoal(v, g.Unit)
}

func fmtGoal(v float64, unit string) string {
	if unit == "us" {
		return fmt.Sprintf("%.0fus", v)
	}
	return fmt.Sprintf("%.2fx", v)
}
