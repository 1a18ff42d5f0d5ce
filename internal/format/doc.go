// Package format owns wire formats: the definition a user PUTs (signature
// scheme, envelope template, JSON style, headers, retry rules, operational
// event types), its validation, the built-in standard-webhooks format, the
// template engine that renders a delivery's body and headers, and the
// catalog that finds a format by name. Signing itself is package signature.
package format
