package config

import (
	"math"
	"strconv"
	"strings"
)

// slo reads `slo: { success_rate: 99.5% }`. The rate is a percentage (99.5% or 99.5); a
// rate of 100% means every minute with one failed call is unavailable.
func (d *decoder) slo(e *Entry) *SLO {
	_, entries, ok := d.object(e)
	if !ok {
		return nil
	}
	s := &SLO{Pos: e.KeyPos}
	d.block("slo", entries, map[string]setting{
		"success_rate": func(e *Entry) { s.SuccessRate = d.percentage(e) },
	})
	if s.SuccessRate == 0 {
		d.rep.errorf(e.KeyPos, "slo: missing success_rate (such as success_rate: 99.5%%)")
		return nil
	}
	return s
}

// percentage reads 99.5% (or 99.5) as the fraction 0.995; it must be above 0 and at most
// 100 %.
func (d *decoder) percentage(e *Entry) float64 {
	const form = "a percentage above 0 and at most 100, such as 99.5%"
	num, ok := d.words(e.Value).Single().(*Number)
	if !ok {
		d.expect(e, form)
		return 0
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(num.Text, "%"), 64)
	if err != nil || f <= 0 || f > 100 || math.IsNaN(f) {
		d.rep.errorf(num.P, "%s: expected %s, found %s", e.Key, form, num.Text)
		return 0
	}
	return f / 100
}

// cost reads `cost: 0.002 per call` (or a bare 0.002): the price of one request that
// reaches the upstream, in whatever currency the operator counts in.
func (d *decoder) cost(e *Entry) *Cost {
	const form = "a price per call such as 0.002 per call"
	ws := d.words(e.Value).Words
	if len(ws) != 1 && !(len(ws) == 3 && isWord(ws[1], "per") && isWord(ws[2], "call")) {
		d.expect(e, form)
		return nil
	}
	num, ok := ws[0].(*Number)
	if !ok {
		d.expect(e, form)
		return nil
	}
	f, err := strconv.ParseFloat(num.Text, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) {
		d.rep.errorf(num.P, "%s: expected %s (not negative), found %s", e.Key, form, num.Text)
		return nil
	}
	return &Cost{Pos: e.KeyPos, PerCall: f}
}
