// Package postgres is the PostgreSQL driver of store.Store, for clusters of
// Herald nodes sharing one database. It owns the schema and its migrations,
// the SQL, the delivery claim (serialized per schema with an advisory lock,
// rows locked with SKIP LOCKED) and the LISTEN/NOTIFY wake-up of workers on
// every node.
package postgres
