// Package header owns the rules for the HTTP headers that users name on a
// delivery, in a format's "headers" and "signature" or in an endpoint's
// "headers": what a header name is, what a value may hold, and which
// headers Herald sets itself, so that neither a format nor an endpoint can.
package header
