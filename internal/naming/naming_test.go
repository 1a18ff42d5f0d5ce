package naming_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/naming"
)

func TestEventType(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"user.created", "a", "webhook.delivery_failed", "A-1.b_2.c", strings.Repeat("a", naming.MaxEventTypeLen)} {
		if !naming.EventType(s) {
			t.Errorf("EventType(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", ".", "user.", ".user", "user..created", "user.*", "*", "user created", "usér", strings.Repeat("a", naming.MaxEventTypeLen+1)} {
		if naming.EventType(s) {
			t.Errorf("EventType(%q) = true, want false", s)
		}
	}
}

func TestEventFilter(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"*", "user.*", "user.created", "a.b.*", "user"} {
		if !naming.EventFilter(s) {
			t.Errorf("EventFilter(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "*.user", "user.*.created", "user*", "**", ".*", "user..*", strings.Repeat("a", naming.MaxEventTypeLen-1) + ".*"} {
		if naming.EventFilter(s) {
			t.Errorf("EventFilter(%q) = true, want false", s)
		}
	}
}

func TestFormatAndTenant(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"acme-v1", "standard-webhooks", "a.b_c", "...", ".a", "a..", strings.Repeat("x", 64)} {
		if !naming.Format(s) || !naming.Tenant(s) {
			t.Errorf("Format(%q) or Tenant(%q) = false, want true", s, s)
		}
	}
	// "." and ".." cannot be path segments: clients and path cleaning
	// take them for the current and the parent directory.
	for _, s := range []string{"", ".", "..", "a b", "a/b", "zoë", strings.Repeat("x", 65)} {
		if naming.Format(s) || naming.Tenant(s) {
			t.Errorf("Format(%q) or Tenant(%q) = true, want false", s, s)
		}
	}
}

func TestEventID(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"evt_01", "order:123", "a-b", strings.Repeat("x", 128)} {
		if !naming.EventID(s) {
			t.Errorf("EventID(%q) = false, want true", s)
		}
	}
	// A "." would make the signed content "{msg_id}.{timestamp}.{body}" ambiguous.
	for _, s := range []string{"", "evt.1", "a b", strings.Repeat("x", 129)} {
		if naming.EventID(s) {
			t.Errorf("EventID(%q) = true, want false", s)
		}
	}
}
