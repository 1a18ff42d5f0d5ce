package postgres

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// Every data exception (SQLSTATE class 22) is a value refused as invalid
// input: the client's error, KindInvalid, never a 500.
func TestClassify_DataExceptionsAreInvalid(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]sqlstore.Kind{
		"22008": sqlstore.KindInvalid, // datetime field overflow: timestamp out of range
		"22003": sqlstore.KindInvalid, // numeric value out of range
		"22P02": sqlstore.KindInvalid, // invalid text representation
		"22007": sqlstore.KindInvalid, // invalid datetime format
		"22001": sqlstore.KindInvalid, // string data right truncation
		"22021": sqlstore.KindInvalid, // character not in repertoire: a NUL
		"22P05": sqlstore.KindInvalid, // untranslatable character
		"22000": sqlstore.KindInvalid, // data exception
		"23505": sqlstore.KindUnique,
		"23503": sqlstore.KindForeignKey,
		"42601": sqlstore.KindOther, // syntax error: the server's fault
		"2200":  sqlstore.KindInvalid,
	} {
		err := fmt.Errorf("query: %w", &pgconn.PgError{Code: code})
		if got := (driver{}).Classify(err); got != want {
			t.Errorf("Classify(SQLSTATE %s) = %d, want %d", code, got, want)
		}
	}
}
