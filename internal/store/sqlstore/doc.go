// Package sqlstore is Herald's store.Store written once, over a Driver: every
// query, its row scanning and its error mapping live here, and the SQLite
// and PostgreSQL packages supply only what differs by database (their
// connections, how a value is bound and scanned, error classification, the
// wake-up of workers, a few SQL fragments, the claim query and the
// migrations). See docs/design.md for why the route was chosen.
package sqlstore
