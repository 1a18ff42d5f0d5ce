// Package signature owns how Herald signs a delivery: the four signature
// schemes a format can name (standard-webhooks, timestamped, body and
// body-then-timestamp), the validation of a format's "signature" object, the
// headers one attempt carries, and the generation and validation of endpoint
// secrets. Receivers check these signatures with the public verify package,
// which is written separately on purpose so that each checks the other.
package signature
