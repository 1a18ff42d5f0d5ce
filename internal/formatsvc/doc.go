// Package formatsvc owns the rules of managing wire formats, for the API,
// the dashboard and the CLI: the name a user chooses, that built-in formats
// are neither replaced nor deleted, that a definition's name is the one it
// is put under, and that a redefined format still suits the secrets of the
// endpoints using it (package endpoint decides that). The formats
// themselves are kept and found by package catalog. Faults are herald
// error kinds with fields named as in its params ("name",
// "definition.signature.scheme").
package formatsvc
