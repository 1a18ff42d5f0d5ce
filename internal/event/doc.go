// Package event owns the ingest of events: the form of an event's type and
// of a producer's own id, the strict reading of its data into the canonical
// form events are stored in, the event catalog's check, the ids and trace
// ids Herald gives, and what reusing an id means. The HTTP API, the
// dashboard and the CLI share it; it reports faults as herald error kinds
// with fields named as in its params ("type", "data.items[3]").
package event
