package api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/apikey"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/clock"
	engine "github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/deliverysvc"
	endpointsvc "github.com/heraldhq/herald/internal/endpoint"
	eventsvc "github.com/heraldhq/herald/internal/event"
	eventtypesvc "github.com/heraldhq/herald/internal/eventtype"
	"github.com/heraldhq/herald/internal/formatsvc"
	"github.com/heraldhq/herald/internal/portal"
	"github.com/heraldhq/herald/internal/replay"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
	tenantsvc "github.com/heraldhq/herald/internal/tenant"
	"github.com/heraldhq/herald/internal/tracing"
)

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// Tester sends an endpoint's test event now, of the type and data p gives
// when they are set (checked by the event service first), and reports
// what the receiver answered (POST .../endpoints/{endpoint}/test).
type Tester interface {
	TestWith(ctx context.Context, tenantID, endpointID string, p *engine.TestParams) (*engine.TestResult, error)
}

// Config wires a Server. Store and Formats are required.
type Config struct {
	// Store keeps everything.
	Store store.Store
	// Formats finds wire formats; PUT and DELETE on formats go through it
	// so its cache stays current on this node.
	Formats *catalog.Catalog
	// Tester sends test events; nil makes the test route answer 503.
	Tester Tester
	// Dispatcher, when set, takes new deliveries straight from ingest on
	// this node (the delivery engine); nil leaves them to the claim.
	Dispatcher eventsvc.Dispatcher
	// EventAccepted, when set, is told the tenant of every event newly
	// stored by ingest (the metrics' herald_events_accepted_total).
	EventAccepted func(tenantID string)
	// Replays starts and shows replays: the node's replay service, whose
	// Run carries on the replays it starts. nil makes one on Store, whose
	// replays go on in the Run of whichever node takes them up.
	Replays *replay.Service
	// Logger receives unexpected errors; nil discards them.
	Logger *slog.Logger
	// Clock is the time of every decision the API and its services make;
	// nil means the wall clock.
	Clock clock.Clock
	// MaxBodyBytes bounds request bodies (413 beyond); 0 means 1 MiB.
	MaxBodyBytes int64
	// MaxBufferedBytes bounds the request-body bytes held in memory at
	// once across all requests (see bodyBudget); 0 means
	// DefaultMaxBufferedBytes, and less than MaxBodyBytes means
	// MaxBodyBytes, so that a body at the limit can always be taken.
	MaxBufferedBytes int64
	// BufferedWait is how long a request waits for room in that budget
	// before it is answered 503; 0 means DefaultBufferedWait.
	BufferedWait time.Duration
	// MaxPageBytes is the byte budget of one page of a list (see
	// store.ListParams.MaxBytes); 0 means store.DefaultPageBytes.
	MaxPageBytes int
	// MaxInFlight is the server's cap on attempts in flight to one endpoint
	// (--per-endpoint), the most an endpoint may set; 0 means the default.
	MaxInFlight int
	// MaxEndpointsPerTenant is how many endpoints one tenant may have
	// (--max-endpoints-per-tenant); past it a create is 409. 0 means
	// endpoint.DefaultMaxPerTenant.
	MaxEndpointsPerTenant int
	// AllowPrivateDestinations lets endpoint URLs point at loopback, private,
	// link-local and other internal addresses.
	AllowPrivateDestinations bool
	// CheckURL is the endpoint service's CheckURL (endpoint.Config): when
	// set, it replaces delivery.CheckURL as the check of a new or changed
	// endpoint URL; an error refuses the URL with 422 at body.url.
	CheckURL func(ctx context.Context, rawURL string) error
	// Ready reports whether the service can take traffic (/readyz); nil
	// means pinging the store.
	Ready func(ctx context.Context) error
	// TracerProvider makes a server span of every request; nil or a no-op
	// provider means no tracing, at no cost.
	TracerProvider trace.TracerProvider
	// TrustForwardedProto takes X-Forwarded-Proto: https from the proxy in
	// front of Herald as the scheme of the URLs the API makes (portal
	// links), as the dashboard does for its cookies.
	TrustForwardedProto bool
}

// Server is Herald's HTTP API.
type Server struct {
	cfg        Config
	st         store.Store
	formats    *formatsvc.Service
	deliveries *deliverysvc.Service
	endpoints  *endpointsvc.Service
	replays    *replay.Service
	keys       *apikey.Service
	events     *eventsvc.Service
	eventTypes *eventtypesvc.Service
	tenants    *tenantsvc.Service
	portal     *portal.Links
	log        *slog.Logger
	now        func() time.Time
	maxBody    int64
	bodies     *bodyBudget
	pageBytes  int
	mux        *http.ServeMux
	api        huma.API
	handler    http.Handler
	patterns   []string // every pattern registered on mux, for the routing test

	// idempotencySweepDue is when this node next sweeps expired
	// idempotency records (unix nanoseconds on the Server's clock), and
	// idempotencySweeps the sweeps running, which tests wait for.
	idempotencySweepDue atomic.Int64
	idempotencySweeps   sync.WaitGroup
}

// New builds the API's routes. It does no I/O.
func New(cfg *Config) *Server {
	s := &Server{
		cfg:       *cfg,
		st:        cfg.Store,
		maxBody:   cmp.Or(cfg.MaxBodyBytes, DefaultMaxBodyBytes),
		pageBytes: cmp.Or(cfg.MaxPageBytes, store.DefaultPageBytes),
		mux:       http.NewServeMux(),
	}
	s.bodies = newBodyBudget(max(cmp.Or(cfg.MaxBufferedBytes, DefaultMaxBufferedBytes), s.maxBody),
		cmp.Or(cfg.BufferedWait, DefaultBufferedWait))
	// The API and every service share one set of defaults.
	base := service.Base{Store: cfg.Store, Clock: cfg.Clock, Logger: cfg.Logger}.Init()
	s.log, s.now = base.Logger, base.Clock.Now
	s.endpoints = endpointsvc.NewService(&endpointsvc.Config{
		Base: base, Formats: cfg.Formats,
		AllowPrivateDestinations: cfg.AllowPrivateDestinations, MaxInFlight: cfg.MaxInFlight, CheckURL: cfg.CheckURL,
		MaxPerTenant: cfg.MaxEndpointsPerTenant,
	})
	s.formats = formatsvc.NewService(&formatsvc.Config{Formats: cfg.Formats, Endpoints: s.endpoints})
	s.deliveries = deliverysvc.NewService(&base)
	s.keys = apikey.NewService(&base)
	s.tenants = tenantsvc.NewService(&base)
	s.portal = portal.New(&base)
	s.eventTypes = eventtypesvc.NewService(&base)
	s.events = eventsvc.NewService(&eventsvc.Config{Base: base, Types: s.eventTypes, Dispatcher: cfg.Dispatcher, Accepted: cfg.EventAccepted})
	s.replays = cfg.Replays
	if s.replays == nil {
		s.replays = replay.NewService(&replay.Config{Base: base})
	}

	hc := huma.DefaultConfig("Herald API", "1.0.0")
	// DefaultConfig's hooks add "$schema" members and Link headers to every
	// response, and its paths serve docs and schemas outside /api/v1; the
	// contract has none of that.
	hc.CreateHooks = nil
	hc.OpenAPIPath, hc.DocsPath, hc.SchemasPath = "", "", ""
	hc.Info.Description = "Herald delivers webhooks: producers post events, Herald signs and sends them to the endpoints of each tenant."
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		securityScheme: {Type: "http", Scheme: "bearer", BearerFormat: "hk_...",
			Description: "An admin key, or a tenant key created with POST /api/v1/tenants/{tenant}/keys."},
	}
	// The paths are absolute (/api/v1/...), so the server is the root of
	// the origin the document is served from, whatever its host.
	hc.Servers = []*huma.Server{{URL: "/", Description: "The Herald server that serves this document."}}
	hc.Transformers = []huma.Transformer{s.transformError}
	hc.Formats = map[string]huma.Format{"application/json": jsonFormat, "json": jsonFormat}
	s.api = humago.New(&recordingMux{ServeMux: s.mux, patterns: &s.patterns}, hc)
	s.api.UseMiddleware(s.authenticate, s.readBody, s.refuseUnknown, s.idempotency)

	s.registerHealth()
	s.registerTenants()
	s.registerKeys()
	s.registerFormats()
	s.registerEventTypes()
	s.registerEndpoints()
	s.registerEvents()
	s.registerDeliveries()
	s.registerReplays()
	s.registerOperator()

	s.handler = http.HandlerFunc(s.serveHTTP)
	// No provider, or a no-op one: no handler is wrapped and tracing
	// costs nothing.
	if tracer := tracing.Tracer(cfg.TracerProvider, tracerName); tracer != nil {
		s.handler = s.traceRequests(tracer, s.handler)
	}
	return s
}

// Handler serves /api/v1/..., /healthz and /readyz.
func (s *Server) Handler() http.Handler { return s.handler }

// OpenAPI returns the OpenAPI 3.1 document, as GET /api/v1/openapi.json
// serves it.
func (s *Server) OpenAPI() ([]byte, error) {
	b, err := json.Marshal(s.api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("marshal openapi: %w", err)
	}
	return b, nil
}

// recordingMux remembers every pattern huma registers, so a test can check
// that the OpenAPI document lists each one.
type recordingMux struct {
	*http.ServeMux
	patterns *[]string
}

func (m *recordingMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	*m.patterns = append(*m.patterns, pattern)
	m.ServeMux.HandleFunc(pattern, h)
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	bodyKey
	principalKey
	originKey
)

// requestOrigin is the scheme and host the client reached this server at
// ("https://herald.example.com"), the base of the URLs the API makes.
func requestOrigin(ctx context.Context) string {
	o, _ := ctx.Value(originKey).(string)
	return o
}

func (s *Server) originOf(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || (s.cfg.TrustForwardedProto && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// requestBody is the body readBody read, for the idempotency hash.
func requestBody(ctx context.Context) []byte {
	b, _ := ctx.Value(bodyKey).([]byte)
	return b
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return an error
	return "req_" + hex.EncodeToString(b[:])
}

// serveHTTP does what must happen before huma sees a request: a request id,
// panic recovery, the query syntax (huma silently ignores a malformed
// escape), and problem answers for paths no route matches. The body is left
// to readBody, which runs after the key is checked.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("X-Request-Id", reqID)
	ctx := context.WithValue(r.Context(), requestIDKey, reqID)
	ctx = context.WithValue(ctx, originKey, s.originOf(r))

	defer func() {
		if rec := recover(); rec != nil {
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			s.log.Error("panic serving request", "request_id", reqID, "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			writeProblem(w, internalError(reqID))
		}
	}()

	// Nothing here reads the body: readBody does, once the key is checked.
	refuse := func(p *huma.ErrorModel) {
		closeUnread(w.Header(), r)
		writeProblem(w, p)
	}
	// Path and query values reach the store as text; PostgreSQL refuses
	// invalid UTF-8 and NUL, and no id or filter holds control characters.
	if !cleanText(r.URL.Path) {
		refuse(newProblem(http.StatusNotFound, "no route for this path"))
		return
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		refuse(newProblem(http.StatusBadRequest, "malformed query string: "+err.Error()))
		return
	}
	for k, vs := range query {
		for _, v := range append(vs, k) {
			if !cleanText(v) {
				refuse(newProblem(http.StatusBadRequest, "malformed query string: invalid UTF-8 or control characters"))
				return
			}
		}
	}

	r = r.WithContext(ctx)

	if h, pattern := s.mux.Handler(r); pattern == "" {
		s.serveUnrouted(w, r, h)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// serveUnrouted turns the mux's plain-text 404 and 405 into problem
// details, and passes anything else it does (a redirect to a clean path)
// through.
func (s *Server) serveUnrouted(w http.ResponseWriter, r *http.Request, h http.Handler) {
	closeUnread(w.Header(), r)
	rec := &capture{header: http.Header{}, code: http.StatusOK}
	h.ServeHTTP(rec, r)
	switch rec.code {
	case http.StatusNotFound:
		writeProblem(w, newProblem(http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)))
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		writeProblem(w, newProblem(http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)))
	default:
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.code)
		w.Write(rec.body.Bytes())
	}
}

// capture is a ResponseWriter that keeps what the mux's own handlers write.
type capture struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header         { return c.header }
func (c *capture) Write(b []byte) (int, error) { return c.body.Write(b) }
func (c *capture) WriteHeader(code int)        { c.code = code }

// cleanText reports whether s is valid UTF-8 without control characters.
func cleanText(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func hasBodyMethod(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch
}

// isJSON accepts application/json, any application/*+json, and no media
// type at all (clients that send JSON without saying so).
func isJSON(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// register adds an operation open to scope sc. Errors the handler returns
// become problem details through problem.
func register[I, O any](s *Server, op huma.Operation, sc scope, h func(context.Context, *I) (*O, error)) {
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[metaScope] = sc
	if sc != scopePublic {
		op.Security = []map[string][]string{{securityScheme: {}}}
		op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
	} else {
		op.Security = []map[string][]string{} // no key, said outright
	}
	if _, ok := reflect.TypeFor[I]().FieldByName("Body"); ok {
		op.Errors = append(op.Errors, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusServiceUnavailable)
	}
	// Every operation refuses input it does not take (refuseUnknown): 422
	// naming it, 400 for a query string or a body that does not parse.
	op.Errors = append(op.Errors, http.StatusBadRequest, http.StatusUnprocessableEntity)
	slices.Sort(op.Errors)
	op.Errors = slices.Compact(op.Errors)
	if op.Method == http.MethodPost && sc != scopePublic {
		op.Parameters = append(op.Parameters, &huma.Param{
			Name: "Idempotency-Key", In: "header",
			Description: "A repeat of this request with the same key and body answers as the first did, and does nothing more.",
			Schema:      &huma.Schema{Type: huma.TypeString, MaxLength: ptr(maxIdempotencyKeyLen)},
		})
	}
	// readBody has already read the body within Config.MaxBodyBytes.
	op.MaxBodyBytes = -1
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			p := s.problem(ctx, err)
			if ra := retryAfter(p.Status); ra != "" {
				return nil, huma.ErrorWithHeaders(p, http.Header{"Retry-After": {ra}})
			}
			return nil, p
		}
		return out, nil
	})
}

func ptr[T any](v T) *T { return &v }
