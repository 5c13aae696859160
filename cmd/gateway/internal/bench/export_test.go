package bench

import "time"

// ParseStat exposes the /proc/PID/stat parser to the black-box tests: the parent pid and utime+stime.
func ParseStat(line string) (ppid int, ticks uint64, err error) {
	st, err := parseStat([]byte(line))
	return st.ppid, st.ticks, err
}

// ClockTicksFromAuxv exposes the auxiliary vector reader.
var ClockTicksFromAuxv = clockTicksFromAuxv

// NewReport builds a report from samples as Run does.
func NewReport(rounds int, samples []Figures) *Report {
	o := Options{Rounds: rounds, Duration: time.Second, Command: []string{"x"}}.withDefaults()
	return newReport(o, 100, []string{Direct, Gateway, Nginx}, nil, samples)
}
