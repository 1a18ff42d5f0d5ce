package web

import (
	"cmp"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/heraldhq/herald/internal/apikey"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/clock"
	engine "github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/deliverysvc"
	endpointsvc "github.com/heraldhq/herald/internal/endpoint"
	eventsvc "github.com/heraldhq/herald/internal/event"
	eventtypesvc "github.com/heraldhq/herald/internal/eventtype"
	"github.com/heraldhq/herald/internal/formatsvc"
	"github.com/heraldhq/herald/internal/overview"
	"github.com/heraldhq/herald/internal/portal"
	"github.com/heraldhq/herald/internal/replay"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
	tenantsvc "github.com/heraldhq/herald/internal/tenant"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Tester sends an endpoint's test event now and reports what the receiver
// answered: the delivery engine.
type Tester interface {
	Test(ctx context.Context, tenantID, endpointID string) (*engine.TestResult, error)
}

// Config wires a Handler. Store and Formats are required.
type Config struct {
	// Store keeps everything.
	Store store.Store
	// Formats finds wire formats (the endpoint forms' choices, and the
	// request an attempt sent).
	Formats *catalog.Catalog
	// Tester sends test events; nil makes the test button say that test
	// sends are not available on this server.
	Tester Tester
	// Replays starts replays: the node's replay service (the API's), whose
	// Run carries on the replays it starts; nil makes one on Store.
	Replays *replay.Service
	// Logger receives unexpected errors; nil discards them.
	Logger *slog.Logger
	// Clock is the time of sessions and of every service decision; nil
	// means the wall clock.
	Clock clock.Clock
	// AllowPrivateDestinations, MaxInFlight and CheckURL are the endpoint
	// service's settings, the same as the API's (api.Config).
	AllowPrivateDestinations bool
	MaxInFlight              int
	CheckURL                 func(ctx context.Context, rawURL string) error
	// TrustForwardedProto takes X-Forwarded-Proto: https from the proxy in
	// front of Herald as a sign that the browser speaks TLS, so that the
	// session cookie is marked Secure. Without it only a TLS connection to
	// Herald itself does.
	TrustForwardedProto bool
	// SessionTTL is how long a sign-in lasts; 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	// MaxSessions bounds the sessions kept in memory; 0 means
	// DefaultMaxSessions. Past it the oldest session ends.
	MaxSessions int
}

// DefaultSessionTTL is how long a sign-in lasts when Config.SessionTTL is 0.
const DefaultSessionTTL = 12 * time.Hour

// DefaultMaxSessions is the bound on sessions when Config.MaxSessions is 0.
const DefaultMaxSessions = 10000

// pageLimit is the rows of one page of every list.
const pageLimit = 50

// maxFormBytes bounds a form's body: every form is a few fields.
const maxFormBytes = 64 << 10

// Handler serves the dashboard.
type Handler struct {
	cfg        Config
	log        *slog.Logger
	now        func() time.Time
	tenants    *tenantsvc.Service
	endpoints  *endpointsvc.Service
	deliveries *deliverysvc.Service
	replays    *replay.Service
	events     *eventsvc.Service
	eventTypes *eventtypesvc.Service
	formats    *formatsvc.Service
	keys       *apikey.Service
	overviews  *overview.Service
	portal     *portal.Links
	sessions   *sessions
	pages      *pages
	static     http.Handler
	mux        *http.ServeMux
}

// New builds the dashboard's routes and parses its templates. It does no
// I/O; a template that does not parse is a programming error and panics.
func New(cfg *Config) *Handler {
	base := service.Base{Store: cfg.Store, Clock: cfg.Clock, Logger: cfg.Logger}.Init()
	h := &Handler{cfg: *cfg, log: base.Logger, now: base.Clock.Now, mux: http.NewServeMux()}
	h.endpoints = endpointsvc.NewService(&endpointsvc.Config{
		Base: base, Formats: cfg.Formats,
		AllowPrivateDestinations: cfg.AllowPrivateDestinations, MaxInFlight: cfg.MaxInFlight, CheckURL: cfg.CheckURL,
	})
	h.tenants = tenantsvc.NewService(&base)
	h.deliveries = deliverysvc.NewService(&base)
	h.replays = cfg.Replays
	if h.replays == nil {
		h.replays = replay.NewService(&replay.Config{Base: base})
	}
	h.keys = apikey.NewService(&base)
	h.overviews = overview.NewService(&base)
	h.portal = portal.New(&base)
	h.eventTypes = eventtypesvc.NewService(&base)
	h.events = eventsvc.NewService(&eventsvc.Config{Base: base, Types: h.eventTypes})
	h.formats = formatsvc.NewService(&formatsvc.Config{Formats: cfg.Formats, Endpoints: h.endpoints})
	h.sessions = newSessions(cmp.Or(cfg.SessionTTL, DefaultSessionTTL), cmp.Or(cfg.MaxSessions, DefaultMaxSessions), h.now)
	h.pages = mustParsePages()
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	h.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	h.routes()
	return h
}

// Paths are the patterns the dashboard serves, for the server's mux: the
// API keeps every other path.
func Paths() []string {
	return []string{"/{$}", "/signin", "/signout", "/static/", "/tenants", "/tenants/", "/formats", "/formats/", "/event-types", "/event-types/", portal.Path}
}

func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET /static/", h.serveStatic)
	m.HandleFunc("GET /signin", h.signInForm)
	m.HandleFunc("POST /signin", h.signIn)
	m.HandleFunc("POST /signout", h.signOut)
	m.HandleFunc("GET "+portal.Path, h.portalEnter)

	m.HandleFunc("GET /{$}", h.admin(h.overview))
	m.HandleFunc("GET /tenants", h.admin(h.tenantList))
	m.HandleFunc("POST /tenants", h.admin(h.tenantCreate))
	m.HandleFunc("GET /tenants/{tenant}", h.tenantScoped(h.tenantShow))
	m.HandleFunc("POST /tenants/{tenant}/endpoints", h.tenantScoped(h.endpointCreate))
	m.HandleFunc("GET /tenants/{tenant}/endpoints/{endpoint}", h.tenantScoped(h.endpointShow))
	m.HandleFunc("POST /tenants/{tenant}/endpoints/{endpoint}", h.tenantScoped(h.endpointUpdate))
	m.HandleFunc("POST /tenants/{tenant}/endpoints/{endpoint}/rotate", h.tenantScoped(h.endpointRotate))
	m.HandleFunc("POST /tenants/{tenant}/endpoints/{endpoint}/test", h.tenantScoped(h.endpointTest))
	m.HandleFunc("POST /tenants/{tenant}/endpoints/{endpoint}/replay", h.tenantScoped(h.endpointReplay))
	m.HandleFunc("GET /tenants/{tenant}/deliveries", h.tenantScoped(h.deliveryList))
	m.HandleFunc("GET /tenants/{tenant}/deliveries/{delivery}", h.tenantScoped(h.deliveryShow))
	m.HandleFunc("POST /tenants/{tenant}/deliveries/{delivery}/retry", h.tenantScoped(h.deliveryRetry))
	m.HandleFunc("GET /tenants/{tenant}/events", h.tenantScoped(h.eventList))
	m.HandleFunc("GET /tenants/{tenant}/events/{event}", h.tenantScoped(h.eventShow))
	m.HandleFunc("GET /formats", h.admin(h.formatList))
	m.HandleFunc("GET /formats/{format}", h.admin(h.formatShow))
	m.HandleFunc("GET /formats/{format}/edit", h.admin(h.formatEdit))
	m.HandleFunc("POST /formats/{format}", h.admin(h.formatUpdate))
	m.HandleFunc("GET /event-types", h.admin(h.eventTypeList))
	m.HandleFunc("GET /event-types/{type}", h.admin(h.eventTypeShow))
}

// csp is the Content-Security-Policy of every page: nothing inline,
// nothing from elsewhere, no framing.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// ServeHTTP sets the security headers of every answer, recovers a panic
// into a 500 page, and routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	defer func() {
		if rec := recover(); rec != nil {
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			h.log.Error("panic serving dashboard", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			h.renderError(w, r, nil, fmt.Errorf("panic: %v", rec))
		}
	}()
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.renderStatus(w, r, nil, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// serveStatic serves the embedded assets. Their names carry a version
// where they change (htmx-2.0.11.min.js), and the rest is small, so they
// are cached for an hour.
func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	h.static.ServeHTTP(w, r)
}
