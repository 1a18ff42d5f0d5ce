package naming

import "regexp"

// MaxEventTypeLen bounds an event type name, and an event filter.
const MaxEventTypeLen = 128

// NameChars describes the grammar of format names and tenant ids, for
// messages.
const NameChars = "1 to 64 of A-Z a-z 0-9 _ . -, and not . or .."

var (
	// nameRE: format names and tenant ids.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	// eventTypeRE: dot-hierarchical names, no empty segment.
	eventTypeRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	// eventFilterRE: "*", "a.*" or a type name.
	eventFilterRE = regexp.MustCompile(`^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?)$`)
	// eventIDRE: no "." because an event id is part of signed content
	// ("{msg_id}.{timestamp}.{body}").
	eventIDRE = regexp.MustCompile(`^[A-Za-z0-9_:-]{1,128}$`)
)

// EventType reports whether s is an event type name such as user.created:
// segments of A-Z a-z 0-9 _ - separated by dots, none empty, at most
// MaxEventTypeLen bytes.
func EventType(s string) bool {
	return len(s) <= MaxEventTypeLen && eventTypeRE.MatchString(s)
}

// EventFilter reports whether s is what an endpoint may subscribe to: "*",
// a prefix such as "user.*", or an event type name.
func EventFilter(s string) bool {
	return len(s) <= MaxEventTypeLen && eventFilterRE.MatchString(s)
}

// Format reports whether s may name a format (NameChars).
func Format(s string) bool { return name(s) }

// Tenant reports whether s may be a tenant's id (NameChars): tenant ids are
// chosen by the user.
func Tenant(s string) bool { return name(s) }

// name is the grammar of format names and tenant ids. They are path
// segments (/tenants/{tenant}, /formats/{name}), and "." and ".." are the
// two that a URL path cannot hold: clients and the server's own path
// cleaning take them for the current and the parent directory, so such a
// tenant would be reachable only as %2E%2E.
func name(s string) bool { return s != "." && s != ".." && nameRE.MatchString(s) }

// EventID reports whether s may be a producer's own event id: 1 to 128 of
// A-Z a-z 0-9 _ : -.
func EventID(s string) bool { return eventIDRE.MatchString(s) }
