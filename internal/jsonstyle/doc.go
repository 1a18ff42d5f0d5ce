// Package jsonstyle parses producers' JSON strictly and writes it again byte for
// byte in one of Herald's two styles, compact (what JavaScript's JSON.stringify
// writes) and python (what Python's json.dumps writes with its defaults). It
// owns the Value tree that keeps key order and the producer's number text, the
// rules for what JSON is refused at ingest, and the two writers; it knows
// nothing of templates, formats or HTTP.
package jsonstyle
