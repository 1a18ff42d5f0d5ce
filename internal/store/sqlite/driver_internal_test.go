package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// openTest opens a store on a new file, closed when the test ends; it
// migrates nothing.
func openTest(t *testing.T) *Store {
	t.Helper()
	st, err := Open(filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// SQLite's refusals of a value are the client's error, as PostgreSQL's
// class 22 is: KindInvalid, which the store answers as herald.ErrInvalid
// (422), never a 500.
func TestClassify_InvalidInput(t *testing.T) {
	t.Parallel()
	st := openTest(t)
	ctx := context.Background()
	d := driver{st}
	if _, err := st.write.ExecContext(ctx, `CREATE TABLE t (n INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for what, query := range map[string]string{
		"a blob over SQLITE_MAX_LENGTH (SQLITE_TOOBIG)": `SELECT zeroblob(2000000000)`,
		"text as a rowid (SQLITE_MISMATCH)":             `INSERT INTO t (n) VALUES ('not a number')`,
	} {
		_, err := st.write.ExecContext(ctx, query)
		if err == nil {
			t.Fatalf("%s: no error, want SQLite to refuse it", what)
		}
		if k := d.Classify(err); k != sqlstore.KindInvalid {
			t.Errorf("%s: Classify(%v) = %d, want KindInvalid", what, err, k)
		}
		if err := st.Err(err, "test"); !errors.Is(err, herald.ErrInvalid) {
			t.Errorf("%s: Err = %v, want herald.ErrInvalid", what, err)
		}
	}
	// A statement SQLite cannot run is the server's fault, not the input's.
	_, err := st.write.ExecContext(ctx, `SELECT * FROM no_such_table`)
	if k := d.Classify(err); k != sqlstore.KindOther {
		t.Errorf("Classify(%v) = %d, want KindOther", err, k)
	}
}

// Placeholders numbered in order become anonymous; any other numbering
// (a repeat, a gap, out of order, fewer arguments) keeps its numbers.
func TestRewrite_AnonymousOnlyInOrder(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		query string
		nargs int
		want  string
	}{
		{`SELECT $1, $2 FROM t WHERE a = $3 LIMIT $4`, 4, `SELECT ?, ? FROM t WHERE a = ? LIMIT (? + 0)`},
		{`INSERT INTO t VALUES ($1, $2), ($3, $4)`, 4, `INSERT INTO t VALUES (?, ?), (?, ?)`},
		{`SELECT $1 WHERE $1 = $2`, 2, `SELECT ?1 WHERE ?1 = ?2`},
		{`SELECT $2, $1`, 2, `SELECT ?2, ?1`},
		{`SELECT $1, $3`, 3, `SELECT ?1, ?3`},
		{`SELECT $1, $2`, 3, `SELECT ?1, ?2`},
		{`SELECT '$' || $1, $10`, 2, `SELECT '$' || ?1, ?10`},
		{`SELECT json_extract(x, '$.a'), $1`, 1, `SELECT json_extract(x, '$.a'), ?`},
	} {
		if got := rewrite(c.query, c.nargs); got != c.want {
			t.Errorf("rewrite(%q, %d) = %q, want %q", c.query, c.nargs, got, c.want)
		}
	}
}

// A table argument is padded to a power of two rows, which Rows leaves
// out: a statement over 3 or 40 rows sees exactly those, and the one
// over 40, a batch as a busy node records them, is kept prepared (it was
// prepared anew on every run when each size was a text of its own).
func TestRows_PaddedToFewTextsAndKeptPrepared(t *testing.T) {
	t.Parallel()
	st := openTest(t)
	ctx := context.Background()
	d := driver{st}
	q := querier{c: st.read, stmts: st.readStmts}
	query := `SELECT count(*), coalesce(sum(r.n), 0), count(r.label) FROM ` +
		d.Rows(1, "r", sqlstore.Col{Name: "label", Type: sqlstore.ColText}, sqlstore.Col{Name: "n", Type: sqlstore.ColInt})
	for _, n := range []int{1, 3, 40, 256, 300} {
		table := make(sqlstore.Table, n)
		want := 0
		for i := range table {
			table[i] = []any{"row", i}
			want += i
		}
		var count, sum, labelled int
		if err := q.QueryRow(ctx, query, table).Scan(&count, &sum, &labelled); err != nil {
			t.Fatalf("%d rows: %v", n, err)
		}
		if count != n || sum != want || labelled != n {
			t.Errorf("%d rows: count %d, sum %d, labelled %d; want %d, %d, %d", n, count, sum, labelled, n, want, n)
		}
		text, args, cache, err := prepare(query, []any{table})
		if err != nil {
			t.Fatal(err)
		}
		wantRows := tableRows(n)
		if got := strings.Count(text, "(?, ?)"); got != wantRows || len(args) != 2*wantRows {
			t.Errorf("%d rows: written as %d rows of %d arguments, want %d", n, got, len(args), wantRows)
		}
		if cache != (n <= maxCachedRows) {
			t.Errorf("%d rows: kept prepared %v, want %v", n, cache, n <= maxCachedRows)
		}
		if _, ok := st.readStmts.m.Load(text); ok != cache {
			t.Errorf("%d rows: in the statement cache %v, want %v", n, ok, cache)
		}
	}
	if got := tableRows(40); got != 64 {
		t.Errorf("tableRows(40) = %d, want 64", got)
	}
}
