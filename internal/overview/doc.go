// Package overview reads the state of the whole deployment for the
// dashboard's first page: the deliveries that finished, delivered or
// failed, in each minute of the last hour and each hour of the last day;
// the percentiles of how long the last hour's deliveries took from their
// event to their delivery; the queue by status; and the disabled
// endpoints. Everything comes from the store's indexed reads, so it is
// every node's work, not this node's, and it costs what finished in the
// windows, never the size of the tables; a node keeps what it read for
// CacheTTL, however many browsers ask.
package overview
