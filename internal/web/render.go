package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// page is what every template gets: the layout's fields and the page's
// own Data.
type page struct {
	Title   string
	CSRF    string // "" when signed out
	Flashes []flash
	// Nav marks the current section in the navigation.
	Nav    string
	Tenant string
	// Portal is a customer portal page: its session sees Tenant only.
	Portal bool
	Data   any
}

// pages are the parsed templates: each page is the layout, the shared
// partials and its own file.
type pages struct {
	byName map[string]*template.Template
}

var funcs = template.FuncMap{
	"time":          fmtTime,
	"ago":           fmtAgo,
	"final":         final,
	"fieldErr":      fieldErr,
	"invalid":       func(errs []herald.FieldError, loc string) bool { return fieldErr(errs, loc) != "" },
	"join":          strings.Join,
	"pretty":        prettyJSON,
	"deref":         func(t *time.Time) time.Time { return *t },
	"fieldErrOther": fieldErrOther,
	"count":         count,
	"duration":      fmtDuration,
	"inc":           func(i int) int { return i + 1 },
	"statusClass": func(code int) string {
		switch {
		case code == 0:
			return "bad"
		case code < 300:
			return "ok"
		}
		return "bad"
	},
}

func mustParsePages() *pages {
	p := &pages{byName: map[string]*template.Template{}}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "templates/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t := template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", f))
		p.byName[name] = t
	}
	return p
}

// render writes a whole page: the layout around the page's "content".
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	h.execute(w, status, name, "layout", p)
}

// renderFragment writes one named template of a page alone, the answer to
// an htmx request that replaces part of the page.
func (h *Handler) renderFragment(w http.ResponseWriter, status int, name, fragment string, p *page) {
	h.execute(w, status, name, fragment, p)
}

func (h *Handler) execute(w http.ResponseWriter, status int, name, tmpl string, p *page) {
	t := h.pages.byName[name]
	if t == nil {
		panic("web: no template " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, tmpl, p); err != nil {
		h.log.Error("render dashboard page", "page", name, "template", tmpl, "err", err)
		http.Error(w, "internal error rendering the page; the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Vary", "HX-Request")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// newPage is a page of a signed-in session, with the flashes it has to show.
func (h *Handler) newPage(ss *session, title string, data any) *page {
	p := &page{Title: title, Data: data}
	if ss != nil {
		p.CSRF = ss.csrf
		p.Flashes = h.sessions.takeFlashes(ss)
		p.Portal = ss.tenant != ""
	}
	return p
}

// fragmentPage is a page for a part of a page (an htmx swap): it shows
// no flashes, so it leaves them for the next whole page.
func (h *Handler) fragmentPage(ss *session, data any) *page {
	p := &page{Data: data}
	if ss != nil {
		p.CSRF = ss.csrf
		p.Portal = ss.tenant != ""
	}
	return p
}

type errorData struct {
	Status  int
	Message string
}

// renderStatus writes an error page with this status and message.
func (h *Handler) renderStatus(w http.ResponseWriter, r *http.Request, ss *session, status int, msg string) {
	p := h.newPage(ss, http.StatusText(status), &errorData{Status: status, Message: msg})
	if r.Header.Get("HX-Request") != "" {
		h.renderFragment(w, status, "error", "content", p)
		return
	}
	h.render(w, r, status, "error", p)
}

// renderError turns a service's error into an error page: the kind's
// status and, for a herald.Error, its message; anything unexpected is a
// 500 whose detail goes to the log only.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, ss *session, err error) {
	status, msg := h.describe(r.Context(), r, err)
	h.renderStatus(w, r, ss, status, msg)
}

// describe is the status and the message a user may see for err.
func (h *Handler) describe(ctx context.Context, r *http.Request, err error) (int, string) {
	var ve *herald.ValidationError
	if errors.As(err, &ve) {
		return http.StatusUnprocessableEntity, ve.Error()
	}
	if kind, status, ok := herald.StatusOf(err); ok {
		msg := http.StatusText(status)
		if kind == herald.ErrUnavailable {
			msg = "The database is not answering; try again in a moment."
		}
		var he *herald.Error
		if errors.As(err, &he) {
			msg = he.Message
		}
		return status, msg
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return http.StatusServiceUnavailable, "The request was canceled."
	}
	ref := randomToken()[:12]
	h.log.Error("dashboard: unexpected error", "ref", ref, "method", r.Method, "path", r.URL.Path, "err", err.Error())
	return http.StatusInternalServerError, "Something went wrong on the server; its log has the details under reference " + ref + "."
}

// fieldErrors are the field faults of a validation error, or nil for any
// other error.
func fieldErrors(err error) []herald.FieldError {
	var ve *herald.ValidationError
	if errors.As(err, &ve) {
		return ve.Fields
	}
	return nil
}

// fieldErr is the message of the faults at loc or within it (events[1] is
// within events), joined; "" when there is none.
func fieldErr(errs []herald.FieldError, loc string) string {
	var msgs []string
	for _, e := range errs {
		if e.Location == loc || strings.HasPrefix(e.Location, loc+".") || strings.HasPrefix(e.Location, loc+"[") {
			m := e.Message
			if e.Location != loc {
				m = e.Location + ": " + m
			}
			msgs = append(msgs, m)
		}
	}
	return strings.Join(msgs, "; ")
}

// formFields are the endpoint form's fields; faults elsewhere are shown
// above the form.
var formFields = []string{"url", "events", "format", "description", "rate_limit", "enabled", "id", "name"}

// fieldErrOther is the message of the faults at no field of the form.
func fieldErrOther(errs []herald.FieldError) string {
	var msgs []string
	for _, e := range errs {
		if !slices.ContainsFunc(formFields, func(f string) bool { return fieldErr([]herald.FieldError{e}, f) != "" }) {
			msgs = append(msgs, e.Location+": "+e.Message)
		}
	}
	return strings.Join(msgs, "; ")
}

func fmtTime(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format("2006-01-02 15:04:05Z")
	case *time.Time:
		if v == nil {
			return ""
		}
		return fmtTime(*v)
	}
	return fmt.Sprint(t)
}

func fmtAgo(now, t time.Time) string {
	d := now.Sub(t).Round(time.Second)
	switch {
	case d < 0:
		return "in " + (-d).String()
	case d < time.Minute:
		return d.String() + " ago"
	case d < time.Hour:
		return (d / time.Minute * time.Minute).String() + " ago"
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// final reports whether a delivery's status is one it stays in until a
// retry: nothing more will happen to it by itself.
func final(status string) bool {
	return status == store.StatusDelivered || status == store.StatusFailed
}

func prettyJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}
