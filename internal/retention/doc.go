// Package retention deletes what Herald no longer needs to keep, in the
// background: events older than the retention whose deliveries have all
// come to an end, with their deliveries and attempts, replays that
// finished as long ago, and deleted endpoints of which no delivery is
// left. It runs in small batches of short transactions, on one node at a
// time (a lease in the store), on the injected clock.
package retention
