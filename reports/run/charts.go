package run

import (
	"cmp"
	"fmt"
	"html/template"
	"math"
	"slices"

	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

// Chart sizes and limits. Every chart draws at most a few thousand
// elements whatever the history's size: latencies are binned, timeline
// points are merged per pixel column, lanes and bars are capped.
const (
	chartW         = 960.0
	latencyBins    = 120
	maxSeries      = 9   // len(palette)
	timelineLanes  = 6   // failing teams drawn as lanes
	laneMarks      = 300 // violation marks per lane
	stalenessTeams = 20  // teams in the staleness bar chart
)

// span is the time range of a history, in op nanoseconds.
func span(h history.History) (t0, t1 int64) {
	t0, t1 = math.MaxInt64, math.MinInt64
	for i := range h.Ops {
		op := &h.Ops[i]
		t0, t1 = min(t0, op.Call), max(t1, op.Call)
		if returned(op) {
			t1 = max(t1, op.Return)
		}
	}
	if t1 <= t0 {
		t1 = t0 + 1
	}
	return t0, t1
}

// latencyChart draws latency over time: per endpoint, the median (solid)
// and p99 (dashed) of the operations called in each time bin, on a log
// scale.
func latencyChart(h history.History) template.HTML {
	const H, L, R, T, B = 320.0, 64.0, chartW - 190, 16.0, 320.0 - 40
	s := newSVG(chartW, H, "latency over time per endpoint")
	t0, t1 := span(h)
	type series struct {
		name string
		bins [latencyBins][]int64
	}
	// The first maxSeries-1 endpoints by name get a series of their own,
	// the rest share "other".
	names := map[string]bool{}
	for i := range h.Ops {
		if returned(&h.Ops[i]) {
			names[h.Ops[i].Endpoint] = true
		}
	}
	var ser []*series
	idx := map[string]*series{}
	for i, ep := range sortedKeys(names) {
		if i < maxSeries-1 || len(names) == maxSeries {
			idx[ep] = &series{name: ep}
			ser = append(ser, idx[ep])
			continue
		}
		if i == maxSeries-1 {
			ser = append(ser, &series{name: "other"})
		}
		idx[ep] = ser[len(ser)-1]
	}
	for i := range h.Ops {
		op := &h.Ops[i]
		if !returned(op) {
			continue
		}
		b := int((op.Call - t0) * latencyBins / (t1 - t0 + 1))
		sr := idx[op.Endpoint]
		sr.bins[b] = append(sr.bins[b], op.Return-op.Call)
	}
	if len(ser) == 0 {
		s.text(chartW/2, H/2, "middle", "muted", "no operation returned")
		return s.html()
	}
	type pts struct{ p50, p99 [latencyBins]float64 } // ms; 0: empty bin
	all := make([]pts, len(ser))
	lo, hi := math.Inf(1), 0.0
	for k, sr := range ser {
		for b := range sr.bins {
			l := sr.bins[b]
			if len(l) == 0 {
				continue
			}
			slices.Sort(l)
			all[k].p50[b] = math.Max(float64(quantile(l, 0.5))/1e6, 1e-3)
			all[k].p99[b] = math.Max(float64(quantile(l, 0.99))/1e6, 1e-3)
			lo, hi = math.Min(lo, all[k].p50[b]), math.Max(hi, all[k].p99[b])
		}
	}
	d0, d1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if d1 <= d0 {
		d1 = d0 + 1
	}
	x := scale{0, float64(t1-t0) / 1e9, L, R}
	y := scale{d0, d1, B, T}
	for d := d0; d <= d1; d++ {
		mults := []float64{1}
		if d1-d0 <= 2 {
			mults = []float64{1, 2, 5}
		}
		for _, m := range mults {
			v := m * math.Pow(10, d)
			if lv := math.Log10(v); lv <= d1 {
				s.line(L, y.at(lv), R, y.at(lv), "#e5e5e5", 1, "")
				s.text(L-6, y.at(lv)+4, "end", "tick", tickLabel(v))
			}
		}
	}
	s.text(14, (T+B)/2, "middle", "axis vertical", "latency (ms, log)")
	xAxis(s, x, B, "time since start (s)")
	binX := func(b int) float64 { return x.at((float64(b) + 0.5) * float64(t1-t0) / latencyBins / 1e9) }
	for k, sr := range ser {
		color := palette[k%len(palette)]
		for _, q := range []struct {
			v     *[latencyBins]float64
			dash  string
			width float64
			name  string
		}{{&all[k].p99, "4 3", 1, "p99"}, {&all[k].p50, "", 2, "p50"}} {
			var seg [][2]float64
			flush := func() {
				s.poly(seg, color, q.width, q.dash, sr.name+" "+q.name)
				if len(seg) == 1 {
					s.circle(seg[0][0], seg[0][1], q.width+0.5, color, sr.name+" "+q.name)
				}
				seg = nil
			}
			for b, v := range q.v {
				if v == 0 {
					flush()
					continue
				}
				seg = append(seg, [2]float64{binX(b), y.at(math.Log10(v))})
			}
			flush()
		}
		ly := T + 8 + float64(k)*20
		s.line(R+14, ly, R+34, ly, color, 2, "")
		s.text(R+40, ly+4, "start", "legend", sr.name)
	}
	ly := T + 8 + float64(len(ser))*20 + 10
	s.line(R+14, ly, R+34, ly, "#555", 2, "")
	s.text(R+40, ly+4, "start", "legend", "median")
	s.line(R+14, ly+18, R+34, ly+18, "#555", 1, "4 3")
	s.text(R+40, ly+22, "start", "legend", "p99")
	return s.html()
}

// xAxis draws a time axis in seconds along y = bottom.
func xAxis(s *svg, x scale, bottom float64, label string) {
	s.line(x.r0, bottom, x.r1, bottom, "#999", 1, "")
	for _, t := range niceTicks(x.d0, x.d1, 8) {
		s.line(x.at(t), bottom, x.at(t), bottom+4, "#999", 1, "")
		s.text(x.at(t), bottom+16, "middle", "tick", tickLabel(t))
	}
	s.text((x.r0+x.r1)/2, bottom+32, "middle", "axis", label)
}

// stalenessTeamChart draws, for the teams with stale violations (the
// stalenessTeams worst by maximum staleness), a bar of their largest
// staleness with the count and median beside it.
func stalenessTeamChart(res check.Result) template.HTML {
	type row struct {
		team string
		st   []int64
	}
	idx := map[string]*row{}
	var rows []*row
	for _, v := range res.Violations {
		if v.Missed == nil {
			continue
		}
		r := idx[v.Team]
		if r == nil {
			r = &row{team: v.Team}
			idx[v.Team] = r
			rows = append(rows, r)
		}
		r.st = append(r.st, int64(v.Staleness))
	}
	if len(rows) == 0 {
		return ""
	}
	for _, r := range rows {
		slices.Sort(r.st)
	}
	slices.SortStableFunc(rows, func(a, b *row) int { return cmp.Compare(b.st[len(b.st)-1], a.st[len(a.st)-1]) })
	more := max(len(rows)-stalenessTeams, 0)
	rows = rows[:min(len(rows), stalenessTeams)]
	const L, R, rowH = 200.0, chartW - 320, 22.0
	H := 30 + float64(len(rows))*rowH + 30
	s := newSVG(chartW, H, "staleness per team")
	top := rows[0].st[len(rows[0].st)-1]
	x := scale{0, float64(top) / 1e6, L, R}
	for _, t := range niceTicks(0, float64(top)/1e6, 6) {
		s.line(x.at(t), 20, x.at(t), 24+float64(len(rows))*rowH, "#eeeeee", 1, "")
		s.text(x.at(t), 16, "middle", "tick", tickLabel(t))
	}
	s.text(R, H-8, "end", "axis", "largest staleness (ms)")
	for i, r := range rows {
		y := 24 + float64(i)*rowH
		mx := float64(r.st[len(r.st)-1]) / 1e6
		med := float64(quantile(r.st, 0.5)) / 1e6
		s.text(L-8, y+14, "end", "lane", clipHead(r.team, 26))
		s.rect(L, y+3, math.Max(x.at(mx)-L, 1), rowH-6, "#d62728",
			fmt.Sprintf("%s: %d stale, max %s, median %s", r.team, len(r.st), fmtMs(mx), fmtMs(med)))
		s.line(x.at(med), y+1, x.at(med), y+rowH-1, "#212121", 2, "")
		s.text(x.at(mx)+6, y+14, "start", "tick", fmt.Sprintf("max %s · median %s · %d stale", fmtMs(round3(mx)), fmtMs(round3(med)), len(r.st)))
	}
	if more > 0 {
		s.text(L, H-8, "start", "tick", fmt.Sprintf("%d more teams not shown", more))
	}
	return s.html()
}

// stalenessHistChart draws the staleness histogram of the summary.
func stalenessHistChart(st Staleness) template.HTML {
	if st.Count == 0 {
		return ""
	}
	const H, L, R, T, B = 220.0, 60.0, chartW - 20, 16.0, 220.0 - 46
	s := newSVG(chartW, H, "staleness histogram")
	top := 0
	for _, b := range st.Histogram {
		top = max(top, b.Count)
	}
	y := scale{0, float64(top), B, T}
	for _, t := range niceTicks(0, float64(top), 4) {
		if t != math.Trunc(t) {
			continue
		}
		s.line(L, y.at(t), R, y.at(t), "#eeeeee", 1, "")
		s.text(L-6, y.at(t)+4, "end", "tick", tickLabel(t))
	}
	w := (R - L) / float64(len(st.Histogram))
	for i, b := range st.Histogram {
		label := fmt.Sprintf("%s–%s", tickLabel(b.FromMs), tickLabel(deref(b.ToMs)))
		if b.ToMs == nil {
			label = "≥ " + tickLabel(b.FromMs)
		}
		x := L + float64(i)*w
		s.rect(x+3, y.at(float64(b.Count)), w-6, B-y.at(float64(b.Count)), "#d62728", fmt.Sprintf("%s ms: %d", label, b.Count))
		if b.Count > 0 {
			s.text(x+w/2, y.at(float64(b.Count))-4, "middle", "tick", fmt.Sprint(b.Count))
		}
		s.text(x+w/2, B+16, "middle", "tick", label)
	}
	s.text((L+R)/2, H-8, "middle", "axis", "staleness (ms)")
	return s.html()
}
