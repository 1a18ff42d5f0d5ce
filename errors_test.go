package herald_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

func TestFields_CollectsInOrderAndPrefixes(t *testing.T) {
	t.Parallel()
	var f herald.Fields
	if f.Err() != nil {
		t.Fatalf("no fields: Err = %v, want nil", f.Err())
	}
	f.Add("name", "is %s", "wrong")
	f.Text("description", "a\x00b")
	f.Text("title", "fine")
	f.AddErr("url", herald.Invalid("", "is internal"))
	f.AddErr("signature", herald.Invalid("scheme", "is unknown"))
	f.AddErr("secret", errors.New("too short"))

	var ve *herald.ValidationError
	if err := f.Err(); !errors.As(err, &ve) || !errors.Is(err, herald.ErrInvalid) {
		t.Fatalf("Err = %v, want a ValidationError", err)
	}
	want := []herald.FieldError{
		{Location: "name", Message: "is wrong"},
		{Location: "description", Message: "must not contain NUL characters"},
		{Location: "url", Message: "is internal"},
		{Location: "signature.scheme", Message: "is unknown"},
		{Location: "secret", Message: "too short"},
	}
	if fmt.Sprint(ve.Fields) != fmt.Sprint(want) {
		t.Fatalf("fields %v, want %v", ve.Fields, want)
	}
}

func TestError_IsItsKindAndSaysItsMessage(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("update: %w", herald.Errorf(herald.ErrNotFound, "endpoint %s not found", "ep_1"))
	var he *herald.Error
	if !errors.Is(err, herald.ErrNotFound) || errors.Is(err, herald.ErrConflict) || !errors.As(err, &he) || he.Message != "endpoint ep_1 not found" {
		t.Fatalf("%v: want ErrNotFound with the message endpoint ep_1 not found", err)
	}
}

func TestLocations(t *testing.T) {
	t.Parallel()
	var f herald.Fields
	f.Add("body.url", "bad")
	f.Add("body.events[0]", "bad too")
	err := fmt.Errorf("create endpoint: %w", f.Err())
	if got := herald.Locations(err); !slices.Equal(got, []string{"body.url", "body.events[0]"}) {
		t.Fatalf("Locations = %v, want [body.url body.events[0]]", got)
	}
	if got := herald.Locations(herald.ErrNotFound); got != nil {
		t.Fatalf("Locations of a plain kind = %v, want nil", got)
	}
}

func TestFields_Metadata(t *testing.T) {
	t.Parallel()
	at := `{"p":"` + strings.Repeat("m", herald.MaxMetadataBytes-len(`{"p":""}`)) + `"}`
	for _, tc := range []struct {
		name string
		m    json.RawMessage
		bad  bool
	}{
		{"none", nil, false},
		{"empty object", json.RawMessage(`{}`), false},
		{"at the limit", json.RawMessage(at), false},
		{"a byte over", json.RawMessage(at[:len(at)-2] + `m"}`), true},
		{"an array", json.RawMessage(`[1]`), true},
		{"not JSON", json.RawMessage(`{"a":`), true},
		{"invalid UTF-8", json.RawMessage("{\"a\":\"\xff\"}"), true},
	} {
		var f herald.Fields
		f.Metadata("metadata", tc.m)
		if got := herald.Locations(f.Err()); tc.bad != slices.Equal(got, []string{"metadata"}) || (!tc.bad && got != nil) {
			t.Errorf("%s: faults at %v, want a fault at metadata: %v", tc.name, got, tc.bad)
		}
	}
}

func TestFields_Window(t *testing.T) {
	t.Parallel()
	t1 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		since, until time.Time
		bad          bool
	}{
		{"open", time.Time{}, time.Time{}, false},
		{"since only", t1, time.Time{}, false},
		{"until only", time.Time{}, t1, false},
		{"empty", t1, t1, false},
		{"forward", t1, t1.Add(time.Second), false},
		{"backward", t1, t1.Add(-time.Microsecond), true},
	} {
		var f herald.Fields
		f.Window("until", tc.since, tc.until)
		if got := herald.Locations(f.Err()); tc.bad != slices.Equal(got, []string{"until"}) || (!tc.bad && got != nil) {
			t.Errorf("%s: faults at %v, want a fault at until: %v", tc.name, got, tc.bad)
		}
	}
}
