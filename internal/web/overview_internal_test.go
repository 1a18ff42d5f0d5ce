package web

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/overview"
)

func TestChart_ScaleLabelsAndNumbers(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]int{0: 1, 1: 1, 3: 5, 10: 10, 11: 20, 70: 100, 4167: 5000} {
		if got := niceCeil(n); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{84 * time.Millisecond: "84 ms", 1234 * time.Millisecond: "1.2 s", 200 * time.Second: "3m20s"} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
	// The tallest bar fills the plot, and the smallest still shows.
	start := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	bs := []overview.Bucket{{Start: start, Delivered: 1000}, {Start: start.Add(time.Minute), Delivered: 1}, {Start: start.Add(2 * time.Minute)}}
	c := drawChart("x", "t", "the span", "minute", bs, minuteLabels)
	if c.Bars[0].DH != chartPlotH || c.Bars[0].DY != chartTop || c.Bars[1].DH != 1 || c.Bars[2].DH != 0 || c.Bars[2].FH != 0 {
		t.Errorf("bars %+v, want the first the plot's height, the second 1, the third none", c.Bars)
	}
	if len(c.XLabels) != 1 || c.XLabels[0].Text != "10:00" || len(c.YLabels) != 3 || c.YLabels[2].Text != "1,000" {
		t.Errorf("labels x %+v, y %+v", c.XLabels, c.YLabels)
	}
}
