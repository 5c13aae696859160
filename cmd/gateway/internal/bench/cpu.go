package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// defaultClockTicks is USER_HZ on every Linux architecture the gateway builds for; the kernel reports
// it in the auxiliary vector, which ClockTicks reads first.
const defaultClockTicks = 100

// atClockTicks is AT_CLKTCK, the auxiliary vector entry glibc's sysconf(_SC_CLK_TCK) reads.
const atClockTicks = 17

// ClockTicks returns the unit of the CPU times in /proc/PID/stat, in ticks per second: the kernel's
// AT_CLKTCK from /proc/self/auxv, or 100 when that cannot be read.
func ClockTicks() int {
	auxv, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return defaultClockTicks
	}
	if hz := clockTicksFromAuxv(auxv); hz > 0 {
		return hz
	}
	return defaultClockTicks
}

// clockTicksFromAuxv finds AT_CLKTCK in an auxiliary vector of native-endian 64-bit pairs.
func clockTicksFromAuxv(auxv []byte) int {
	for len(auxv) >= 16 {
		key, val := binary.NativeEndian.Uint64(auxv), binary.NativeEndian.Uint64(auxv[8:])
		auxv = auxv[16:]
		switch key {
		case 0: // AT_NULL ends the vector
			return 0
		case atClockTicks:
			if val > 0 && val <= 1<<20 {
				return int(val)
			}
			return 0
		}
	}
	return 0
}

// CPUReader reads the CPU time (user plus system) processes have used so far.
type CPUReader struct {
	hz   int
	proc string // "/proc", replaceable in tests
}

// NewCPUReader returns a reader for this machine's /proc and clock tick.
func NewCPUReader() *CPUReader { return &CPUReader{hz: ClockTicks(), proc: "/proc"} }

// Hz returns the clock tick the reader converts with.
func (r *CPUReader) Hz() int { return r.hz }

// Process returns the CPU time pid has used, all its threads included.
func (r *CPUReader) Process(pid int) (time.Duration, error) {
	st, err := r.stat(strconv.Itoa(pid))
	if err != nil {
		return 0, err
	}
	return r.duration(st.ticks), nil
}

// Tree returns the CPU time of pid plus that of its live children (an nginx master and its workers).
func (r *CPUReader) Tree(pid int) (time.Duration, error) {
	root, err := r.stat(strconv.Itoa(pid))
	if err != nil {
		return 0, err
	}
	ticks := root.ticks
	entries, err := os.ReadDir(r.proc)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		st, err := r.stat(name)
		if err != nil {
			continue // exited while we looked, or not ours to read
		}
		if st.ppid == pid {
			ticks += st.ticks
		}
	}
	return r.duration(ticks), nil
}

func (r *CPUReader) duration(ticks uint64) time.Duration {
	return time.Duration(ticks) * time.Second / time.Duration(r.hz)
}

// procStat is what the reader needs of one /proc/PID/stat line.
type procStat struct {
	ppid  int
	ticks uint64 // utime + stime
}

func (r *CPUReader) stat(pid string) (procStat, error) {
	b, err := os.ReadFile(r.proc + "/" + pid + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// parseStat parses a /proc/PID/stat line (proc(5)): "pid (comm) state ppid ... utime stime ...", where
// comm may itself hold spaces and parentheses, so fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return procStat{}, errors.New("bench: malformed /proc stat line: no command name")
	}
	// Fields after comm, numbered from 3 as proc(5) numbers them: state(3) ppid(4) ... utime(14) stime(15).
	fields := bytes.Fields(b[end+1:])
	const first, ppid, utime, stime = 3, 4, 14, 15
	if len(fields) < stime-first+1 {
		return procStat{}, fmt.Errorf("bench: malformed /proc stat line: %d fields after the command name", len(fields))
	}
	p, err := strconv.Atoi(string(fields[ppid-first]))
	if err != nil {
		return procStat{}, fmt.Errorf("bench: /proc stat ppid: %w", err)
	}
	u, err := strconv.ParseUint(string(fields[utime-first]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("bench: /proc stat utime: %w", err)
	}
	s, err := strconv.ParseUint(string(fields[stime-first]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("bench: /proc stat stime: %w", err)
	}
	return procStat{ppid: p, ticks: u + s}, nil
}
