// Package herald holds the error kinds shared by every part of Herald, the
// webhook delivery service. The server lives under internal/ and starts from
// cmd/herald; receivers verify deliveries with the verify package.
package herald
