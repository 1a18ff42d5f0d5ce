// Package eventtype owns the event catalog: the event types a producer may
// declare, the JSON Schema each may hold (compiled once and cached, and
// refused when it would reach outside itself), and the check that an
// event of a cataloged type matches its schema and is not archived. The
// HTTP API, the dashboard and the CLI share it; it reports faults as herald
// error kinds with fields named as in its params.
package eventtype
