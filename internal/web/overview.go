package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald/internal/humanize"
	"github.com/heraldhq/herald/internal/overview"
)

// overviewData is the overview page: the service's figures and the charts
// drawn from them.
type overviewData struct {
	*overview.Overview
	Minutes, Hours chart
	// More is how many disabled endpoints are counted but not listed.
	More int
	// LatencyCapped says the percentiles are of the latest
	// overview.LatencySample of the hour's deliveries, not all of them.
	LatencyCapped bool
	Sample        int
}

// overview is the first page after sign-in: the whole deployment at a
// glance. An htmx request (its polling) gets the part that changes.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request, ss *session) {
	o, err := h.overviews.Get(r.Context())
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	d := &overviewData{
		Overview: o,
		Minutes:  drawChart("minutes", "Deliveries finished in the last hour, by minute (UTC)", "the last hour", "minute", o.Minutes, minuteLabels),
		Hours:    drawChart("hours", "Deliveries finished in the last day, by hour (UTC)", "the last day", "hour", o.Hours, hourLabels),
		More:     o.DisabledCount - len(o.Disabled),
		Sample:   overview.LatencySample,
	}
	d.LatencyCapped = o.Latency.Sampled < o.Latency.Delivered
	if r.Header.Get("HX-Request") != "" {
		h.renderFragment(w, http.StatusOK, "overview", "overview_live", h.fragmentPage(ss, d))
		return
	}
	p := h.newPage(ss, "Overview", d)
	p.Nav = "overview"
	h.render(w, r, http.StatusOK, "overview", p)
}

// The charts' geometry, in the SVG's own units: a plot of plotW by plotH
// with room for the y labels on the left and the x labels below. Bars
// are whole units wide, so every coordinate is an integer.
const (
	chartLeft   = 44
	chartTop    = 8
	chartPlotW  = 600
	chartPlotH  = 150
	chartBottom = 22
	chartRight  = 8
)

// chart is a stacked bar chart of deliveries finished, delivered below
// and failed above, drawn as inline SVG (no script, no inline style: its
// colours are the stylesheet's classes), with a summary for its label and
// a table of every bar for screen readers.
type chart struct {
	ID, Title, Summary string
	Width, Height      int
	PlotLeft, PlotTop  int
	PlotRight, Base    int // the plot's right edge and the bars' base line
	Bars               []chartBar
	XLabels, YLabels   []chartLabel
	Delivered, Failed  int
}

// chartBar is one bucket: its delivered part from Y to Y+DH, its failed
// part from FY to FY+FH.
type chartBar struct {
	X, W          int
	DY, DH        int
	FY, FH        int
	Label, Title  string
	Delivered     int
	Failed        int
	CurrentBucket bool
}

type chartLabel struct {
	X, Y int
	Text string
}

func minuteLabels(t time.Time) (string, bool) {
	return t.Format("15:04"), t.Minute()%10 == 0
}

func hourLabels(t time.Time) (string, bool) {
	return t.Format("Jan 2 15:04"), t.Hour()%6 == 0
}

// drawChart lays out bs as bars across the plot. label names a bucket
// and says whether the x axis shows it.
func drawChart(id, title, span, unit string, bs []overview.Bucket, label func(time.Time) (string, bool)) chart {
	c := chart{
		ID: id, Title: title,
		Width: chartLeft + chartPlotW + chartRight, Height: chartTop + chartPlotH + chartBottom,
		PlotLeft: chartLeft, PlotTop: chartTop, PlotRight: chartLeft + chartPlotW, Base: chartTop + chartPlotH,
	}
	peak, peakAt := 0, ""
	for _, b := range bs {
		c.Delivered += b.Delivered
		c.Failed += b.Failed
		if n := b.Delivered + b.Failed; n > peak {
			peak, peakAt = n, b.Start.UTC().Format("15:04")
		}
	}
	top := niceCeil(peak)
	step := chartPlotW / max(len(bs), 1)
	gap := max(step/5, 1)
	height := func(n int) int {
		h := n * chartPlotH / top
		if n > 0 && h == 0 {
			h = 1 // one delivery still shows
		}
		return h
	}
	for i, b := range bs {
		text, shown := label(b.Start.UTC())
		bar := chartBar{
			X: chartLeft + i*step + gap/2, W: step - gap, Label: text, Delivered: b.Delivered, Failed: b.Failed,
			CurrentBucket: i == len(bs)-1,
		}
		bar.DH = height(b.Delivered)
		bar.DY = c.Base - bar.DH
		bar.FH = height(b.Failed)
		bar.FY = bar.DY - bar.FH
		bar.Title = fmt.Sprintf("%s: %s delivered, %s failed", text, count(b.Delivered), count(b.Failed))
		if bar.CurrentBucket {
			bar.Title += " (this " + unit + ", so far)"
		}
		c.Bars = append(c.Bars, bar)
		if shown {
			c.XLabels = append(c.XLabels, chartLabel{X: chartLeft + i*step, Y: c.Base + 15, Text: b.Start.UTC().Format("15:04")})
		}
	}
	for _, v := range []int{0, top / 2, top} {
		if v == top/2 && (top%2 != 0 || top/2 == 0) {
			continue
		}
		y := c.Base - v*chartPlotH/top
		c.YLabels = append(c.YLabels, chartLabel{X: chartLeft - 6, Y: y, Text: count(v)})
	}
	switch {
	case c.Delivered+c.Failed == 0:
		c.Summary = "No delivery finished in " + span + "."
	default:
		c.Summary = fmt.Sprintf("In %s, %s delivered and %s failed; the busiest %s, %s, had %s.",
			span, count(c.Delivered), count(c.Failed), unit, peakAt, count(peak))
	}
	return c
}

// niceCeil is the smallest 1, 2 or 5 times a power of ten at or above n
// (at least 1): the top of a chart's scale.
func niceCeil(n int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

// count writes n with thousands separators.
var count = humanize.Count

// fmtDuration writes a latency to the precision it deserves: 84 ms,
// 1.2 s, 3m20s.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	}
	return d.Round(time.Second).String()
}
