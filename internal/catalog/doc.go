// Package catalog is where formats are kept and found: the built-in ones of
// package format first, then those stored (PUT by users or loaded from a
// formats file at start), compiled and cached briefly, since every delivery
// needs its format. Package format itself renders and knows no store.
package catalog
