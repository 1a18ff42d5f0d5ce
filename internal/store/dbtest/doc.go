// Package dbtest gives tests of other packages real, fresh, migrated
// databases: a SQLite file in the test's temporary directory, and a fresh
// PostgreSQL schema when HERALD_TEST_DATABASE_URL names a server. Everything
// it makes is closed and dropped when the test ends.
package dbtest
