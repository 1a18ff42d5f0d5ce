// Package apikey owns API keys: what a key looks like, the hash that is all
// the store keeps of it, creating, listing and deleting keys (the last
// admin key stays), looking a presented key up and noting its last use, and
// making sure a server has an admin key. The HTTP API's
// authentication and key routes and the server's start share it; it knows
// nothing of HTTP headers.
package apikey
