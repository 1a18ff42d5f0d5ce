package web

import (
	"encoding/json"
	"net/http"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/store"
)

// Formats and event types: read here, a stored format edited in
// formatform.go; event types are changed through the API
// (PUT /api/v1/event-types/{name}).

type formatListData struct {
	Formats []catalog.Entry
	Default string
}

func (h *Handler) formatList(w http.ResponseWriter, r *http.Request, ss *session) {
	fs, err := h.formats.List(r.Context())
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	p := h.newPage(ss, "Formats", &formatListData{Formats: fs, Default: h.cfg.Formats.DefaultName()})
	p.Nav = "formats"
	h.render(w, r, http.StatusOK, "formats", p)
}

type formatShowData struct {
	Name       string
	Builtin    bool
	Default    bool
	Definition json.RawMessage
}

func (h *Handler) formatShow(w http.ResponseWriter, r *http.Request, ss *session) {
	f, err := h.formats.Get(r.Context(), r.PathValue("format"))
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	p := h.newPage(ss, "Format "+f.Name, &formatShowData{
		Name: f.Name, Builtin: f.Builtin, Default: f.Name == h.cfg.Formats.DefaultName(), Definition: f.Definition(),
	})
	p.Nav = "formats"
	h.render(w, r, http.StatusOK, "format", p)
}

type eventTypeListData struct {
	Types []*store.EventType
	Pager pager
}

func (h *Handler) eventTypeList(w http.ResponseWriter, r *http.Request, ss *session) {
	lp, err := listParams(r)
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	rows, err := h.eventTypes.List(r.Context(), &lp)
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	d := &eventTypeListData{}
	d.Types, d.Pager.Next = store.Page(rows, &lp)
	d.Pager.Cursor = lp.Cursor
	p := h.newPage(ss, "Event types", d)
	p.Nav = "event-types"
	h.render(w, r, http.StatusOK, "eventtypes", p)
}

type eventTypeShowData struct {
	Type *store.EventType
}

func (h *Handler) eventTypeShow(w http.ResponseWriter, r *http.Request, ss *session) {
	et, err := h.eventTypes.Get(r.Context(), r.PathValue("type"))
	if err != nil {
		h.renderError(w, r, ss, err)
		return
	}
	p := h.newPage(ss, "Event type "+et.Name, &eventTypeShowData{Type: et})
	p.Nav = "event-types"
	h.render(w, r, http.StatusOK, "eventtype", p)
}
