// Package endpoint owns the rules of a tenant's endpoints: the defaults of a
// new one, its signing secret (generated, or checked against its format's
// scheme), the checks of its URL, event filters and extra headers, the
// rotation grace policy and the replay window. The HTTP API, the dashboard
// and the CLI share it; it knows nothing of HTTP requests, and reports
// faults as herald error kinds with fields named as in its params ("url",
// "events[1]", "headers.X-Team").
package endpoint
