// Package humanize writes numbers for people to read: the dashboard's pages
// and herald bench's table share it, so both write 12,345 the same way.
package humanize
