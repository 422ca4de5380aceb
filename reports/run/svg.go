package run

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// svg builds one inline SVG chart. Every attribute value and text it
// writes goes through html.EscapeString, which is what makes handing the
// result to html/template as template.HTML safe.
type svg struct {
	b    strings.Builder
	w, h float64
}

func newSVG(w, h float64, label string) *svg {
	s := &svg{w: w, h: h}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" width="100%%" role="img" aria-label="%s" class="chart">`,
		w, h, esc(label))
	return s
}

func esc(s string) string { return html.EscapeString(s) }

// f formats a coordinate compactly.
func f(x float64) string { return fmt.Sprintf("%.1f", x) }

func (s *svg) rect(x, y, w, h float64, fill, title string) {
	fmt.Fprintf(&s.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s">`, f(x), f(y), f(math.Max(w, 0)), f(math.Max(h, 0)), esc(fill))
	s.title(title)
	s.b.WriteString(`</rect>`)
}

func (s *svg) line(x1, y1, x2, y2 float64, stroke string, width float64, dash string) {
	fmt.Fprintf(&s.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%g"`, f(x1), f(y1), f(x2), f(y2), esc(stroke), width)
	if dash != "" {
		fmt.Fprintf(&s.b, ` stroke-dasharray="%s"`, esc(dash))
	}
	s.b.WriteString(`/>`)
}

func (s *svg) circle(cx, cy, r float64, fill, title string) {
	fmt.Fprintf(&s.b, `<circle cx="%s" cy="%s" r="%g" fill="%s">`, f(cx), f(cy), r, esc(fill))
	s.title(title)
	s.b.WriteString(`</circle>`)
}

// poly draws a polyline through pts.
func (s *svg) poly(pts [][2]float64, stroke string, width float64, dash, title string) {
	if len(pts) == 0 {
		return
	}
	var p strings.Builder
	for i, pt := range pts {
		if i > 0 {
			p.WriteByte(' ')
		}
		p.WriteString(f(pt[0]) + "," + f(pt[1]))
	}
	fmt.Fprintf(&s.b, `<polyline fill="none" stroke="%s" stroke-width="%g" points="%s"`, esc(stroke), width, p.String())
	if dash != "" {
		fmt.Fprintf(&s.b, ` stroke-dasharray="%s"`, esc(dash))
	}
	s.b.WriteString(`>`)
	s.title(title)
	s.b.WriteString(`</polyline>`)
}

// text writes a label; anchor is start, middle or end.
func (s *svg) text(x, y float64, anchor, class, txt string) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="%s"`, f(x), f(y), esc(anchor))
	if class != "" {
		fmt.Fprintf(&s.b, ` class="%s"`, esc(class))
	}
	fmt.Fprintf(&s.b, `>%s</text>`, esc(txt))
}

func (s *svg) title(t string) {
	if t != "" {
		fmt.Fprintf(&s.b, `<title>%s</title>`, esc(t))
	}
}

func (s *svg) html() template.HTML {
	s.b.WriteString(`</svg>`)
	return template.HTML(s.b.String()) // built from escaped parts only
}

// scale maps [d0, d1] onto [r0, r1] linearly.
type scale struct{ d0, d1, r0, r1 float64 }

func (c scale) at(x float64) float64 {
	if c.d1 == c.d0 {
		return (c.r0 + c.r1) / 2
	}
	return c.r0 + (x-c.d0)/(c.d1-c.d0)*(c.r1-c.r0)
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for t := math.Ceil(lo/step) * step; t <= hi+step*1e-9; t += step {
		out = append(out, math.Round(t/step)*step)
	}
	return out
}

// tickLabel renders a tick value without noise digits.
func tickLabel(x float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", x), "0"), ".")
}

// palette colours series (endpoints) in order.
var palette = []string{"#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#bcbd22", "#7f7f7f", "#e377c2"}

// kindColor colours violation kinds.
func kindColor(k string) string {
	switch k {
	case "stale-deny":
		return "#d62728"
	case "stale-allow":
		return "#7b1fa2"
	case "contract":
		return "#ef6c00"
	case "lost-update":
		return "#6d4c41"
	case "non-linearizable":
		return "#c2185b"
	}
	return "#555555"
}

// clipHead shortens a label to n runes by dropping its start: team ids
// (UUIDs, numbered names) differ at the end.
func clipHead(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}
