package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"

	"github.com/heraldhq/herald/internal/store/dbtest"
)

// A create-event body is checked member by member, each error at its
// member, as the schema says, and with exact, single member names: a
// second "type" or a "Type" is refused, not taken for "type".
func TestCreateEvent_BodyShape(t *testing.T) {
	t.Parallel()
	h := newHarness(t, dbtest.SQLite(t))
	key := h.tenantWithKey(t, "acme")
	for _, tc := range []struct {
		body string
		code int
		loc  string
	}{
		{`{"type":"a","data":{}}`, http.StatusAccepted, ""},
		{`{"type":"a","data":{"k":[1,{"x":null}]},"id":"e-1"}`, http.StatusAccepted, ""},
		{` {"id":"","data":{},"type":"a"} `, http.StatusAccepted, ""},
		{`{"type":5,"data":{}}`, http.StatusUnprocessableEntity, "body.type"},
		{`{"type":null,"data":{}}`, http.StatusUnprocessableEntity, "body.type"},
		{`{"data":{}}`, http.StatusUnprocessableEntity, "body.type"},
		{`{"type":"a"}`, http.StatusUnprocessableEntity, "body.data"},
		{`{"type":"a","data":[]}`, http.StatusUnprocessableEntity, "body.data"},
		{`{"type":"a","data":null}`, http.StatusUnprocessableEntity, "body.data"},
		{`{"type":"a","data":{},"id":5}`, http.StatusUnprocessableEntity, "body.id"},
		{`{"type":"a","data":{},"x":1}`, http.StatusUnprocessableEntity, "body.x"},
		{`{"type":"a","type":"b","data":{}}`, http.StatusUnprocessableEntity, "body.type"},
		{`{"Type":"a","data":{}}`, http.StatusUnprocessableEntity, "body.Type"},
		{`{"type":"a","data":{"k":1,"k":2}}`, http.StatusUnprocessableEntity, "body.data.k"},
		{`[]`, http.StatusUnprocessableEntity, "body"},
		{`"x"`, http.StatusUnprocessableEntity, "body"},
		{`{"type":"a","data":{}} x`, http.StatusBadRequest, "body"},
		{`[1,2] 3`, http.StatusBadRequest, "body"},
		{`{"type":"a","data":{}`, http.StatusBadRequest, "body"},
		{`{"type":"a","data":{},}`, http.StatusBadRequest, "body"},
		{`nul`, http.StatusBadRequest, "body"},
	} {
		r := h.do(req{method: http.MethodPost, path: "/api/v1/tenants/acme/events", key: key, body: tc.body})
		if tc.code == http.StatusAccepted {
			if r.Code != tc.code {
				t.Errorf("%s: %d %s, want %d", tc.body, r.Code, r.Body, tc.code)
			}
			continue
		}
		wantProblem(t, r, tc.code, tc.loc)
	}
}

// FuzzCheckEventBody: whatever the bytes, checkEventBody accepts only a
// JSON object of a string type, an object data and at most a string id,
// and calls a body that does not parse a 400.
func FuzzCheckEventBody(f *testing.F) {
	for _, s := range []string{`{"type":"a","data":{}}`, `{"type":"a","data":{},"id":"x"}`, `{"type":"a","type":"a","data":{}}`,
		`{"Type":"a","data":{}}`, `[]`, `{"type":"a","data":{}} 1`, `{"data":{"type":1}}`, `{`, `{"type":"\u0061","data":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := checkEventBody(body)
		var p *huma.ErrorModel
		if errors.As(err, &p) && p.Status == http.StatusBadRequest {
			if json.Valid(body) {
				t.Fatalf("%q: 400 %v, but it is valid JSON", body, err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("%q does not parse, but the check said %v", body, err)
		}
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%q accepted, but is not an object: %v", body, err)
		}
		for k, v := range m {
			switch {
			case k == "type" || k == "id":
				var s string
				if json.Unmarshal(v, &s) != nil {
					t.Fatalf("%q accepted with %s not a string", body, k)
				}
			case k == "data":
				var o map[string]any
				if json.Unmarshal(v, &o) != nil || o == nil {
					t.Fatalf("%q accepted with data not an object", body)
				}
			default:
				t.Fatalf("%q accepted with member %q", body, k)
			}
		}
		if _, ok := m["type"]; !ok {
			t.Fatalf("%q accepted without type", body)
		}
		if _, ok := m["data"]; !ok {
			t.Fatalf("%q accepted without data", body)
		}
	})
}

// FuzzCheckEventBody_AsTheDecoder: the fast check of a body that parses
// answers exactly what the decoder's check answers, error for error.
func FuzzCheckEventBody_AsTheDecoder(f *testing.F) {
	for _, s := range []string{`{"type":"a","data":{}}`, ` { "type" : "a" , "data" : { "k" : [ 1 , "}" ] } , "id" : "x\"" } `,
		`{"type":"a","type":"a","data":{}}`, `{"x":1,"x":2,"y":[]}`, `{"Type":"a","data":{}}`, `[]`, `"s"`, `1`,
		`{"data":{"type":1}}`, `{}`, `{"type":"\u0061","data":{}}`, `{"typ\u0065":1}`, `{"type":1,"data":"x","id":{}}`, "{\"t\xffpe\":1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, want := checkEventBody(body), checkEventBodyTokens(body)
		if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
			t.Fatalf("%q: %v, the decoder says %v", body, got, want)
		}
		var gf, wf *herald.ValidationError
		if errors.As(got, &gf) != errors.As(want, &wf) || gf != nil && !slices.Equal(gf.Fields, wf.Fields) {
			t.Fatalf("%q: fields %+v, the decoder's %+v", body, gf, wf)
		}
	})
}

// BenchmarkCheckEventBody: the check of a 1 KiB event body, as ingest
// makes it and with the decoder alone; then its reading, as ingest reads
// it and with encoding/json.
func BenchmarkCheckEventBody(b *testing.B) {
	data, _ := json.Marshal(map[string]any{"order": strings.Repeat("x", 900), "items": []any{1, 2.5, "three", nil, true}})
	body := []byte(`{"type":"order.created","id":"evt_1","data":` + string(data) + `}`)
	for _, bc := range []struct {
		name  string
		check func([]byte) error
	}{{"check", checkEventBody}, {"decoder", checkEventBodyTokens},
		{"read", func(b []byte) error {
			var v eventCreateBody
			if !v.readChecked(b) {
				return errors.New("not read")
			}
			return nil
		}},
		{"read-encoding-json", func(b []byte) error {
			var v eventCreateBody
			return json.Unmarshal(b, &v)
		}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := bc.check(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzReadChecked: a body the check accepts is read as encoding/json reads
// it, or left to encoding/json; and no input, checked or not, takes the
// reader outside it.
func FuzzReadChecked(f *testing.F) {
	for _, s := range []string{`{"type":"a","data":{}}`, ` { "id" : "x" , "data" : { "k" : [ 1 , "}\"" ] } , "type" : "t" } `,
		`{"type":"a\u0062","data":{}}`, `{"type":"é","data":{"é":1}}`, `{"data":{},"type":"a"`, `{"type"`, `{"type":"a","data":{"x":"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got eventCreateBody
		ok := got.readChecked(body)
		if checkEventBody(body) != nil || !ok {
			return
		}
		var want eventCreateBody
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("%q: checked, read, but encoding/json says %v", body, err)
		}
		if got.Type != want.Type || got.ID != want.ID || string(got.Data) != string(want.Data) {
			t.Fatalf("%q: read %+v, encoding/json %+v", body, got, want)
		}
	})
}

// The fast ways are the ways taken: a plain body is checked by the walk
// and read by it, not left to the decoder and encoding/json (whose
// answers the fuzz tests hold them to), and one with an escaped name or
// string is left to them.
func TestEventBody_PlainBodiesTakeTheWalk(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{"type":"a","data":{"k":[1,"}"]},"id":"e-1"}`, ` { "data" : { } , "type" : "t" } `, `{"type":1,"x":2}`} {
		if _, ok := checkParsedEventBody([]byte(body)); !ok {
			t.Errorf("%s: left to the decoder", body)
		}
	}
	var b eventCreateBody
	if !b.readChecked([]byte(`{"type":"a","data":{"k":[1,"}"]},"id":"e-1"}`)) || b.Type != "a" || b.ID != "e-1" || string(b.Data) != `{"k":[1,"}"]}` {
		t.Errorf("plain body read as %+v", b)
	}
	for _, body := range []string{`{"typ\u0065":"a","data":{}}`, `{"type":"\u0061","data":{}}`} {
		var b eventCreateBody
		if b.readChecked([]byte(body)) {
			t.Errorf("%s: read by the walk, want encoding/json", body)
		}
	}
	if _, ok := checkParsedEventBody([]byte(`{"typ\u0065":"a","data":{}}`)); ok {
		t.Error("an escaped name checked by the walk, want the decoder")
	}
}
