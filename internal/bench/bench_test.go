package bench

import (
	"strings"
	"testing"
	"time"
)

func TestPercentiles_NearestRank(t *testing.T) {
	t.Parallel()
	ds := make([]int64, 1000)
	for i := range ds {
		ds[i] = int64(1000-i) * int64(time.Millisecond) // 1000 ms .. 1 ms, unsorted
	}
	got := percentiles(ds)
	want := Percentiles{P50: 500, P99: 990, P999: 999, Max: 1000}
	if got != want {
		t.Errorf("percentiles of 1..1000 ms = %+v, want %+v", got, want)
	}
	if (percentiles(nil) != Percentiles{}) {
		t.Error("percentiles of nothing are not zero")
	}
}

func TestRecorder_FirstArrivalCountsAndRepeatsAreDuplicates(t *testing.T) {
	t.Parallel()
	r := newRecorder(2)
	at := time.Unix(100, 0)
	r.arrive("e0", at)
	r.arrive("e0", at.Add(time.Second))
	r.arrive("evt_other", at) // not one of the bench's: ignored
	r.arrive("e7", at)        // out of range: ignored
	select {
	case <-r.done:
		t.Fatal("done after one of two events")
	default:
	}
	r.arrive("e1", at)
	<-r.done
	if r.got.Load() != 2 || r.dups.Load() != 1 || r.arrived[0].Load() != at.UnixNano() {
		t.Errorf("got %d, dups %d, e0 at %d: want 2, 1 and the first arrival", r.got.Load(), r.dups.Load(), r.arrived[0].Load())
	}
}

func TestEventBody_IsAbout1KiB(t *testing.T) {
	t.Parallel()
	if n := len(eventData(12345)); n < 900 || n > 1100 {
		t.Errorf("event data is %d bytes, want about 1 KiB", n)
	}
	if b := string(eventBody(7)); !strings.HasPrefix(b, `{"id":"e7","type":"bench.event","data":{"n":7,`) {
		t.Errorf("event body %.80s...", b)
	}
}
