package bench

// ParseStat exposes the /proc/PID/stat parser to the black-box tests: the parent pid and utime+stime.
func ParseStat(line string) (ppid int, ticks uint64, err error) {
	st, err := parseStat([]byte(line))
	return st.ppid, st.ticks, err
}

// ClockTicksFromAuxv exposes the auxiliary vector reader.
var ClockTicksFromAuxv = clockTicksFromAuxv

// NewReportOf builds a report from samples as Run does with o, for a run that measured targets. o's
// zero fields take their defaults.
func NewReportOf(o Options, targets []string, samples []Figures) *Report {
	o.Command = []string{"x"}
	return newReport(o.withDefaults(), 100, targets, nil, samples)
}
