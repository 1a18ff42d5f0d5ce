// Package api serves Herald's public HTTP API (described in docs/api.md):
// authentication by API key, the tenant, key, format, event type, endpoint,
// event and delivery resources, problem-details errors, idempotent POSTs, the
// health probes and the OpenAPI document generated from the same route
// definitions that serve requests. It decodes requests, calls the services
// that hold the rules (endpoint, apikey, tenant, event, eventtype), encodes
// their answers and maps domain error kinds to HTTP statuses; storage,
// rendering and sending belong to the store, format and delivery packages.
package api
