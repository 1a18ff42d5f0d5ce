// Package storetest is the behaviour every store.Store driver must have,
// as one test suite: each driver's TestStore calls Run with a way to open a
// fresh database. It owns the definition of "correct" for the store; the
// drivers own only how.
package storetest
