// Package cli is the herald command line: serve, migrate, version, and the
// receiver tools. It turns flags and HERALD_* variables into configuration
// and calls into app; it holds no server logic of its own.
package cli
