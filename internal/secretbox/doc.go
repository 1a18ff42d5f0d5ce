// Package secretbox seals the secrets Herald keeps (endpoints' signing
// secrets) under an operator's encryption key, AES-256-GCM from the
// standard library, so that a copy of the database is not a copy of every
// customer's signing key. It owns the key's form (32 random bytes in
// base64), the key id stored beside every sealed value, and a keyring of
// the current key and the old ones still read while rows are re-sealed
// (herald rotate-key); it knows nothing of the store.
package secretbox
