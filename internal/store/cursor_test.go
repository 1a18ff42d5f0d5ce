package store_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

func TestCursor_RoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		at time.Time
		id string
	}{
		{time.Date(2025, 3, 4, 5, 6, 7, 891234000, time.UTC), "ep_01JH0000000000000000000000"},
		{time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC), "a"},
		{time.Unix(0, 0).UTC(), "user.created"},
		{time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 3600)), "acme-ü"},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "first"},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), "last"},
	} {
		c := store.EncodeCursor(tc.at, tc.id)
		at, id, err := store.DecodeCursor(c)
		if err != nil {
			t.Fatalf("DecodeCursor(EncodeCursor(%v, %q)) = %v, want no error", tc.at, tc.id, err)
		}
		if !at.Equal(tc.at) || at.Location() != time.UTC || id != tc.id {
			t.Errorf("round trip of (%v, %q) gave (%v, %q), want the same time in UTC and id", tc.at, tc.id, at, id)
		}
	}
}

func TestDecodeCursor_RejectsForeignInput(t *testing.T) {
	t.Parallel()
	for _, c := range []string{
		"", "abc", "!!!!", "AQAAAAAAAAAA", // too short: no id
		"AgAAAAAAAAAAYQ", // version 2
		store.EncodeCursor(time.Unix(1, 0), "a\x00b"),
		store.EncodeCursor(time.Unix(1, 0), "\xff\xfe"),
		// Times no row can have (issue 12: PostgreSQL answered the first
		// with "timestamp out of range", a 500).
		store.EncodeCursor(time.UnixMicro(-210866803200000001), "x"),
		store.EncodeCursor(time.UnixMicro(math.MinInt64), "x"),
		store.EncodeCursor(time.UnixMicro(math.MaxInt64), "x"),
		store.EncodeCursor(time.Date(0, 12, 31, 23, 59, 59, 999999000, time.UTC), "x"),
		store.EncodeCursor(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "x"),
	} {
		_, _, err := store.DecodeCursor(c)
		var ve *herald.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Location != "query.cursor" {
			t.Errorf("DecodeCursor(%q) = %v, want a ValidationError at query.cursor", c, err)
		}
		if !errors.Is(err, herald.ErrInvalid) {
			t.Errorf("DecodeCursor(%q) error %v is not ErrInvalid", c, err)
		}
	}
}

type row struct {
	at   time.Time
	id   string
	size int
}

func (r row) Cursor() string { return store.EncodeCursor(r.at, r.id) }

func (r row) Size() int { return r.size }

func TestPage(t *testing.T) {
	t.Parallel()
	rows := make([]row, 4)
	for i := range rows {
		rows[i] = row{time.Unix(int64(100-i), 0), fmt.Sprint(i), 1}
	}
	page, next := store.Page(rows, &store.ListParams{Limit: 3})
	if len(page) != 3 || next != rows[2].Cursor() {
		t.Errorf("Page(4 rows, 3) = %d rows, next %q; want 3 rows and the third row's cursor %q", len(page), next, rows[2].Cursor())
	}
	page, next = store.Page(rows[:3], &store.ListParams{Limit: 3})
	if len(page) != 3 || next != "" {
		t.Errorf("Page(3 rows, 3) = %d rows, next %q; want 3 rows and no next cursor", len(page), next)
	}
	page, next = store.Page(rows, &store.ListParams{})
	if len(page) != 4 || next != "" {
		t.Errorf("Page(4 rows, 0) = %d rows, next %q; want the default limit to keep all 4", len(page), next)
	}
}

func TestPage_StopsAtTheByteBudget(t *testing.T) {
	t.Parallel()
	rows := make([]row, 5)
	for i := range rows {
		rows[i] = row{time.Unix(int64(100-i), 0), fmt.Sprint(i), 40}
	}
	for _, tc := range []struct {
		name      string
		rows      []row
		budget    int
		wantRows  int
		wantNextN int // the row whose cursor is next; -1 for none
	}{
		{"two fit exactly", rows, 80, 2, 1},
		{"two and a bit", rows, 119, 2, 1},
		{"all fit", rows, 200, 5, -1},
		{"a first row over the budget still makes a page", rows, 10, 1, 0},
		{"the last row does not fit", rows[:3], 80, 2, 1},
	} {
		page, next := store.Page(tc.rows, &store.ListParams{Limit: 50, MaxBytes: tc.budget})
		wantNext := ""
		if tc.wantNextN >= 0 {
			wantNext = tc.rows[tc.wantNextN].Cursor()
		}
		if len(page) != tc.wantRows || next != wantNext {
			t.Errorf("%s: Page(%d rows of 40 bytes, budget %d) = %d rows, next %q; want %d rows, next %q",
				tc.name, len(tc.rows), tc.budget, len(page), next, tc.wantRows, wantNext)
		}
	}
	// The limit still applies within the budget.
	if page, next := store.Page(rows, &store.ListParams{Limit: 2, MaxBytes: 1 << 20}); len(page) != 2 || next != rows[1].Cursor() {
		t.Errorf("Page(limit 2, large budget) = %d rows, next %q; want 2 rows and the second's cursor", len(page), next)
	}
}

func TestPageBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    *store.ListParams
		want int
	}{
		{nil, store.DefaultPageBytes},
		{&store.ListParams{}, store.DefaultPageBytes},
		{&store.ListParams{MaxBytes: -1}, store.DefaultPageBytes},
		{&store.ListParams{MaxBytes: 1000}, 1000},
	} {
		if got := tc.p.PageBytes(); got != tc.want {
			t.Errorf("%+v.PageBytes() = %d, want %d", tc.p, got, tc.want)
		}
	}
}

func TestPageLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    *store.ListParams
		want int
	}{
		{nil, store.DefaultLimit},
		{&store.ListParams{}, store.DefaultLimit},
		{&store.ListParams{Limit: -3}, store.DefaultLimit},
		{&store.ListParams{Limit: 1}, 1},
		{&store.ListParams{Limit: 250}, 250},
		{&store.ListParams{Limit: 251}, store.MaxLimit},
	} {
		if got := tc.p.PageLimit(); got != tc.want {
			t.Errorf("%+v.PageLimit() = %d, want %d", tc.p, got, tc.want)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(store.EncodeCursor(time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC), "evt_01JH"))
	f.Add("")
	f.Add("AQ")
	f.Add("AQAAAAAAAAAAYQ")
	f.Add("not base64 at all")
	f.Add(store.EncodeCursor(time.UnixMicro(-210866803200000001), "x"))
	f.Add(store.EncodeCursor(time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), "x"))
	f.Fuzz(func(t *testing.T, s string) {
		at, id, err := store.DecodeCursor(s)
		if err != nil {
			if !errors.Is(err, herald.ErrInvalid) {
				t.Fatalf("DecodeCursor(%q) error %v is not ErrInvalid", s, err)
			}
			return
		}
		// Whatever decodes is a time every database can compare with its
		// rows, and text every database can bind...
		if at.Year() < 1 || at.Year() > 9999 || at.Location() != time.UTC {
			t.Fatalf("DecodeCursor(%q) = time %v, want one in the years 1 to 9999, UTC", s, at)
		}
		if !utf8.ValidString(id) || strings.ContainsRune(id, 0) || id == "" {
			t.Fatalf("DecodeCursor(%q) = id %q, want non-empty UTF-8 without NUL", s, id)
		}
		// ...and encodes back to a cursor meaning the same.
		at2, id2, err := store.DecodeCursor(store.EncodeCursor(at, id))
		if err != nil || !at2.Equal(at) || id2 != id {
			t.Fatalf("re-encoding (%v, %q) decoded as (%v, %q, %v)", at, id, at2, id2, err)
		}
	})
}
