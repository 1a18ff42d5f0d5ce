package postgres

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// A table becomes one typed array per column, numbered where its columns
// are read; the other placeholders are renumbered in order, a repeated one
// keeping one number.
func TestExpand_TableColumnsAsArrays(t *testing.T) {
	t.Parallel()
	at := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	cols := []sqlstore.Col{{Name: "id", Type: sqlstore.ColText}, {Name: "n", Type: sqlstore.ColInt},
		{Name: "at", Type: sqlstore.ColTime}, {Name: "body", Type: sqlstore.ColBytes}}
	type status string
	rows := sqlstore.Table{
		{status("a"), 1, at, []byte("x")},
		{nil, int64(2), (*time.Time)(nil), nil},
	}
	q := `SELECT r.id FROM ` + driver{}.Rows(2, "r", cols...) + ` WHERE r.n > $1 AND r.id <> $3 AND r.n < $1`
	got, args, err := expand(q, []any{7, rows, "z"})
	if err != nil {
		t.Fatal(err)
	}
	want := `SELECT r.id FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::bytea[]) AS r(id, n, at, body) WHERE r.n > $5 AND r.id <> $6 AND r.n < $5`
	if got != want {
		t.Errorf("expand =\n%s\nwant\n%s", got, want)
	}
	wantArgs := []any{
		[]pgtype.Text{{String: "a", Valid: true}, {}},
		[]pgtype.Int8{{Int64: 1, Valid: true}, {Int64: 2, Valid: true}},
		[]pgtype.Timestamptz{{Time: at, Valid: true}, {}},
		[][]byte{[]byte("x"), nil},
		7,
		"z",
	}
	if !reflect.DeepEqual(args, wantArgs) {
		t.Errorf("args = %#v\nwant %#v", args, wantArgs)
	}

	// The second call of the text, with a table of another size, reads
	// the plan the first made.
	got, args, err = expand(q, []any{8, rows[:1], "y"})
	if err != nil || got != want || len(args) != 6 || args[4] != 8 || len(args[0].([]pgtype.Text)) != 1 {
		t.Errorf("second expand = %q, %#v, %v", got, args, err)
	}

	// Without a table the query and its arguments pass as they are.
	plain := []any{"a", 1}
	if got, args, err := expand(`SELECT $2, $1`, plain); err != nil || got != `SELECT $2, $1` || !reflect.DeepEqual(args, plain) {
		t.Errorf("expand without a table = %q, %v, %v", got, args, err)
	}
}

// A cell of the wrong type, or a table read without an array type, is an
// error naming it, not a value bound as something else.
func TestExpand_Refusals(t *testing.T) {
	t.Parallel()
	cols := []sqlstore.Col{{Name: "id", Type: sqlstore.ColText}, {Name: "n", Type: sqlstore.ColInt}}
	_, _, err := expand(`SELECT * FROM `+driver{}.Rows(1, "r", cols...), []any{sqlstore.Table{{"a", "not a number"}}})
	if err == nil || !strings.Contains(err.Error(), "row 0, column 2: string is not a bigint") {
		t.Errorf("a text cell in a bigint column: %v", err)
	}
	// A text planned with a table at $2 and called with something else
	// there (and a table elsewhere) is refused, not bound by the old plan.
	q := `SELECT * FROM ` + driver{}.Rows(2, "r", cols...) + ` WHERE $1 IS NOT NULL`
	if _, _, err := expand(q, []any{sqlstore.Table{{"a", 1}}, sqlstore.Table{{"a", 1}}}); err == nil {
		t.Error("$1 a table but read without an array type: no error")
	}
	if _, _, err := expand(q, []any{"x", sqlstore.Table{{"a", 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := expand(q, []any{sqlstore.Table{{"a", 1}}, "x"}); err == nil || !strings.Contains(err.Error(), "is a table in one call") {
		t.Errorf("the planned table given as text: %v", err)
	}
	_, _, err = expand(`SELECT * FROM json_each($1)`, []any{sqlstore.Table{{"a"}}})
	if err == nil || !strings.Contains(err.Error(), "without an array type") {
		t.Errorf("a table read as something else: %v", err)
	}
}
