package endpoint

import (
	"strconv"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/header"
	"github.com/heraldhq/herald/internal/naming"
)

const (
	maxFilters     = 100
	maxHeaders     = 50
	maxHeaderValue = 1024
)

func checkEventFilters(f *herald.Fields, loc string, filters []string) {
	if len(filters) == 0 {
		f.Add(loc, `must list at least one event type, "a.*" or "*"`)
	}
	if len(filters) > maxFilters {
		f.Add(loc, "has %d filters, at most %d are allowed", len(filters), maxFilters)
		return
	}
	for i, s := range filters {
		if !naming.EventFilter(s) {
			f.Add(loc+"["+strconv.Itoa(i)+"]", `must be "*", a prefix such as "user.*", or an event type name of A-Z a-z 0-9 _ - separated by dots`)
		}
	}
}

// checkHeaders checks an endpoint's extra headers: token names, values
// without control characters, nothing Herald sets itself (signature holds
// the headers of the format's signature scheme).
func checkHeaders(f *herald.Fields, loc string, h map[string]string, signature []string) {
	if len(h) > maxHeaders {
		f.Add(loc, "has %d headers, at most %d are allowed", len(h), maxHeaders)
		return
	}
	for name, value := range h {
		l := loc + "." + name
		switch {
		case !header.ValidName(name):
			f.Add(loc, "%q is not a valid HTTP header name", name)
			continue
		case header.Reserved(name, signature):
			f.Add(l, "is set by Herald and cannot be overridden")
		case len(value) > maxHeaderValue:
			f.Add(l, "must be at most %d bytes", maxHeaderValue)
		case !header.ValidValue(value):
			f.Add(l, "must not contain control characters")
		}
	}
}
