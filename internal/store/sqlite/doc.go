// Package sqlite is the SQLite driver of store.Store, for a single Herald
// node with no database server. It owns the schema and its migrations, the
// connection setup (WAL, one writer connection, a pool of readers), how
// values are bound (times as unix microseconds, lists as JSON), the claim
// query and the in-process wake-up of workers when new due work commits;
// every other query is package sqlstore's.
package sqlite
