// Package format owns wire formats: the definition a user PUTs (signature
// scheme, envelope template, JSON style, headers, retry rules, operational
// event types), its validation, the built-in standard-webhooks format, and
// the rendering of a delivery's request (body, headers, signatures) from its
// own input types. Rendering is pure: format knows no store, so what the
// engine sends and what herald send-test shows are made by the same code.
// Signing itself is package signature; keeping formats is package catalog.
package format
