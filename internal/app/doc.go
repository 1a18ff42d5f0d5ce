// Package app wires Herald together and runs it: it opens the store named by
// the database URL, runs migrations, loads formats, bootstraps the admin key,
// and serves the API while the delivery engine works, until the context ends.
package app
