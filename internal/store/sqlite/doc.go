// Package sqlite is the SQLite driver of store.Store, for a single Herald
// node with no database server. It owns the schema and its migrations, the
// SQL, the connection setup (WAL, one writer connection, a pool of readers)
// and the in-process wake-up of workers when new due work commits.
package sqlite
