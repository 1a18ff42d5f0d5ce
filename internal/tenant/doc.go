// Package tenant owns the rules of tenants, the customers that receive
// webhooks: the form of the id a user chooses for one, its name, and what
// a missing or taken id is called. The HTTP API, the dashboard and the CLI
// share it; it knows nothing of HTTP requests, and reports faults as herald
// error kinds with fields named as in its params.
package tenant
