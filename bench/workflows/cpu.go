package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuUse is the CPU used during a phase, in cores (CPU seconds per second): by this
// process (its user + system time), by the local PostgreSQL processes, where DBOS and
// Junction's PostgreSQL store do much of their work, and by everything else on the
// machine. Off Linux only self is known (the others are then negative).
type cpuUse struct {
	self, pg, other float64
	seconds         float64 // wall time of the phase
}

func (c cpuUse) String() string {
	if c.other < 0 {
		return fmt.Sprintf("%.2f / ? / ?", c.self)
	}
	return fmt.Sprintf("%.2f / %.2f / %.2f", c.self, c.pg, c.other)
}

// perRun is the CPU time of this process and PostgreSQL together for each of n runs.
func (c cpuUse) perRun(n int) time.Duration {
	return time.Duration((c.self + max(c.pg, 0)) * c.seconds / float64(max(n, 1)) * float64(time.Second))
}

type cpuMeter struct {
	at        time.Time
	self      time.Duration
	total, pg time.Duration // <0: unknown
}

func startCPU() cpuMeter {
	return cpuMeter{at: time.Now(), self: selfCPU(), total: machineCPU(), pg: postgresCPU()}
}

func (m cpuMeter) stop() cpuUse {
	wall := time.Since(m.at).Seconds()
	u := cpuUse{self: (selfCPU() - m.self).Seconds() / wall, pg: -1, other: -1, seconds: wall}
	total, pg := machineCPU(), postgresCPU()
	if total < 0 || m.total < 0 || pg < 0 || m.pg < 0 {
		return u
	}
	u.pg = (pg - m.pg).Seconds() / wall
	u.other = max(0, (total-m.total).Seconds()/wall-u.self-u.pg)
	return u
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const userHZ = 100 // the unit of /proc times on Linux

// machineCPU is the busy time of every CPU since boot (Linux), or -1.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / userHZ
}

// postgresCPU sums the CPU time of the local postgres processes with their reaped
// children (backends that ended), or -1.
func postgresCPU() time.Duration {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	var total time.Duration
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open || end+2 > len(b) || string(b[open+1:end]) != "postgres" {
			continue
		}
		f := strings.Fields(string(b[end+2:])) // from state: utime is f[11]
		if len(f) < 15 {
			continue
		}
		var ticks int64
		for _, v := range f[11:15] { // utime stime cutime cstime
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
		total += time.Duration(ticks) * time.Second / userHZ
	}
	return total
}
