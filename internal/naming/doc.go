// Package naming owns the grammar of the names users give things: event
// types and the filters endpoints subscribe with, format names, tenant ids
// and producers' own event ids. The API, the formats and the CLI all check
// names here, so a name one accepts the others accept too.
package naming
