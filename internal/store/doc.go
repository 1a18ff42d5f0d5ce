// Package store defines everything Herald keeps: tenants, keys, formats,
// event types, endpoints, events, deliveries and their attempts, and the
// delivery queue's claim. The Store interface is the seam; the sqlite and
// postgres packages implement it and both pass storetest.Run. SQL lives only
// in those drivers; the Go they would otherwise both write around it
// (checking parameters, making ids, encoding JSON columns, the precision of
// times) lives here once, so the two agree by construction.
package store
