// Package id makes Herald's object ids: a short type prefix and a ULID, so
// ids sort by creation time ("ep_01JH...", "dlv_01JH..."); and the trace ids
// of events that continue no caller's trace.
package id
