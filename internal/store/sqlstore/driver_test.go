package sqlstore_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// Each $N is handed to put in order, with the text after it; a $ without
// digits is text; put's error is the result.
func TestPlaceholders(t *testing.T) {
	t.Parallel()
	var seen []string
	got, err := sqlstore.Placeholders(`SELECT '$', $2::text[], $10 FROM t WHERE a = $1`, func(b *strings.Builder, n int, after string) error {
		seen = append(seen, fmt.Sprintf("%d:%.8s", n, after))
		fmt.Fprintf(b, "<%d>", n)
		return nil
	})
	if want := `SELECT '$', <2>::text[], <10> FROM t WHERE a = <1>`; err != nil || got != want {
		t.Errorf("Placeholders = %q, %v; want %q", got, err, want)
	}
	if want := []string{"2:::text[]", "10: FROM t ", "1:"}; fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("put saw %q, want %q", seen, want)
	}
	stop := errors.New("stop")
	if _, err := sqlstore.Placeholders(`SELECT $1`, func(*strings.Builder, int, string) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("an error from put: %v, want it returned", err)
	}
}
