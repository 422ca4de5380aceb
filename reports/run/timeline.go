package run

import (
	"fmt"
	"html/template"
	"math"
	"slices"

	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
)

// timelineChart marks violations on the run's timeline: a strip with every
// violation, then one lane per failing team (the first timelineLanes by
// first violation) with its writes above and its decisions below, stale
// decisions linked to the acknowledged write they missed.
func timelineChart(h history.History, res check.Result, total int) template.HTML {
	const L, R, strip, lane = 170.0, chartW - 20, 46.0, 64.0
	var teams []string
	lanes := map[string]int{}
	for _, v := range res.Violations {
		if _, ok := lanes[v.Team]; !ok && len(teams) < timelineLanes {
			lanes[v.Team] = len(teams)
			teams = append(teams, v.Team)
		}
	}
	H := 10 + strip + float64(len(teams))*lane + 90
	s := newSVG(chartW, H, "violations on the timeline, per failing team")
	t0, t1 := span(h)
	x := scale{0, float64(t1-t0) / 1e9, L, R}
	xt := func(ns int64) float64 { return x.at(float64(ns-t0) / 1e9) }

	// Strip: every violation, merged per pixel column and kind.
	top := 10.0
	// Two short lines: the gutter left of L holds about 22 characters.
	count := countText(total)
	if total > len(res.Violations) {
		count = fmt.Sprintf("first %d of %d", len(res.Violations), total)
	}
	s.text(L-8, top+12, "end", "lane", "all teams")
	s.text(L-8, top+26, "end", "tick", count)
	s.rect(L, top, R-L, strip-14, "#fafafa", "")
	seen := map[[2]int]bool{}
	for _, v := range res.Violations {
		px := xt(v.Decision.Call)
		k := [2]int{int(px), slices.Index(check.Kinds, v.Kind)}
		if seen[k] {
			continue
		}
		seen[k] = true
		s.line(px, top+2, px, top+strip-16, kindColor(string(v.Kind)), 1.5, "")
	}

	// Lanes.
	type laneOps struct{ writes, decisions []*history.Op }
	per := make([]laneOps, len(teams))
	for i := range h.Ops {
		op := &h.Ops[i]
		k, ok := lanes[op.Team]
		if !ok {
			continue
		}
		switch op.Kind {
		case history.Decide, history.ReadMembers:
			per[k].decisions = append(per[k].decisions, op)
		default:
			per[k].writes = append(per[k].writes, op)
		}
	}
	byTeam := make([][]*check.Violation, len(teams))
	for i := range res.Violations {
		v := &res.Violations[i]
		if k, ok := lanes[v.Team]; ok {
			byTeam[k] = append(byTeam[k], v)
		}
	}
	for k, team := range teams {
		y0 := top + strip + float64(k)*lane
		wy, dy := y0+12, y0+40
		s.text(L-8, wy+4, "end", "lane", clipHead(team, 22))
		s.text(L-8, dy+4, "end", "tick", countText(teamCount(res, team, len(byTeam[k]))))
		s.line(L, dy, R, dy, "#eeeeee", 1, "")
		drawn := map[[3]int]bool{}
		for _, op := range per[k].writes {
			x1 := xt(op.Call)
			x2 := x1 + 3
			color := "#1f77b4"
			switch {
			case op.Outcome == history.Unknown:
				color = "#ff9800"
			case op.Outcome != history.OK:
				continue
			case op.Kind == history.Block || op.Kind == history.Unblock:
				color = "#424242"
			case op.Kind == history.MemberAdd:
				color = "#6d4c41"
			}
			if op.Outcome == history.OK {
				x2 = math.Max(xt(op.Return), x1+1.5)
			}
			key := [3]int{int(x1), int(x2), len(color) + int(color[1])}
			if drawn[key] {
				continue
			}
			drawn[key] = true
			s.rect(x1, wy-6, x2-x1, 12, color, writeTitle(op))
		}
		dots := map[int]bool{}
		for _, op := range per[k].decisions {
			if op.Outcome == history.Failed {
				continue
			}
			px := xt(op.Call)
			if dots[int(px)] {
				continue
			}
			dots[int(px)] = true
			s.circle(px, dy, 1.8, "#9e9e9e", "")
		}
		for i, v := range byTeam[k] {
			if i == laneMarks {
				s.text(R, y0+58, "end", "tick", fmt.Sprintf("first %d of %d violations marked", laneMarks, len(byTeam[k])))
				break
			}
			c := kindColor(string(v.Kind))
			px := xt(v.Decision.Call)
			if v.Missed != nil && v.Missed.Outcome == history.OK {
				s.line(xt(v.Missed.Return), wy+6, px, dy, c, 1.2, "")
			}
			s.circle(px, dy, 4, c, fmt.Sprintf("%s, op %d on replica %d at %s: %s", v.Kind, v.Decision.ID, v.Replica, fmtMs(nsMs(v.Decision.Call)), v.Reason))
		}
	}
	bottom := top + strip + float64(len(teams))*lane
	xAxis(s, x, bottom, "time since start (s)")
	ly, lx := bottom+52, L
	item := func(w float64, draw func(x float64)) {
		if lx+w > R {
			ly, lx = ly+18, L
		}
		draw(lx)
		lx += w
	}
	for _, it := range []struct{ color, name string }{{"#1f77b4", "write (call → ack)"}, {"#424242", "block / unblock"}, {"#6d4c41", "member add"}, {"#ff9800", "write, unknown outcome"}, {"#9e9e9e", "decision"}} {
		item(16+legendWidth(it.name), func(x float64) {
			s.rect(x, ly-8, 12, 10, it.color, "")
			s.text(x+16, ly+1, "start", "legend", it.name)
		})
	}
	for _, k := range check.Kinds {
		if res.Counts[k] == 0 {
			continue
		}
		item(14+legendWidth(string(k)), func(x float64) {
			s.circle(x+5, ly-3, 4, kindColor(string(k)), "")
			s.text(x+14, ly+1, "start", "legend", string(k))
		})
	}
	return s.html()
}

// teamCount is a team's number of violations from the per-team results
// (which cover violations the checker did not keep), at least kept.
func teamCount(res check.Result, team string, kept int) int {
	n := 0
	for _, tr := range res.Teams {
		if tr.Team == team {
			n += tr.Violations
		}
	}
	return max(n, kept)
}

// legendWidth estimates a legend label's width at 12px plus a gap.
func legendWidth(s string) float64 { return float64(len([]rune(s)))*6.8 + 22 }

func writeTitle(op *history.Op) string {
	t := fmt.Sprintf("op %d %s on replica %d, called %s", op.ID, op.Kind, op.Replica, fmtMs(nsMs(op.Call)))
	if op.Outcome == history.OK {
		t += ", acknowledged " + fmtMs(nsMs(op.Return))
	} else {
		t += ", outcome " + string(op.Outcome)
	}
	if op.Kind == history.Write {
		t += fmt.Sprintf(", sets %v", op.Groups)
	}
	if op.Member != "" {
		t += ", adds " + op.Member
	}
	return t
}
