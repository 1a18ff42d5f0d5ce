// Package app wires Herald together and runs it. Main opens the store named
// by the database URL, runs migrations, loads formats, bootstraps the admin
// key and listens; it then serves the API while the delivery engine works,
// until the context ends, and closes what it opened.
package app
