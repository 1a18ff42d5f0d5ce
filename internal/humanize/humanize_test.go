package humanize_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/humanize"
)

func TestCount_ThousandsSeparators(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 99000: "99,000", 1234567: "1,234,567", -1500: "-1,500", -4200: "-4,200"} {
		if got := humanize.Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
