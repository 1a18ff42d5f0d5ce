package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// Cookie names. The session cookie holds only a random id: the key it was
// opened with stays in this process's memory.
const (
	sessionCookie = "herald_session"
	// signInCookie carries the token of the sign-in form (a double-submit
	// token: there is no session yet to keep it in).
	signInCookie = "herald_signin"
	// portalCookie is a customer portal session's: a browser may hold
	// one beside an operator's session, and it is sent from within the
	// frames of a tenant's portal origins (SameSite=None there).
	portalCookie = "herald_portal"
)

// PortalSessionTTL is how long a portal session lasts after its link is
// opened.
const PortalSessionTTL = time.Hour

// signInTTL is how long a sign-in form may be left open before it is sent.
const signInTTL = 30 * time.Minute

// session is one signed-in browser. Its fields other than flashes are
// set once; flashes change under sessions.mu.
type session struct {
	id  string
	key string // the admin key it signed in with, checked on every request
	// tenant is the one tenant a portal session may see; "" for an
	// operator's session.
	tenant  string
	csrf    string // the token every form of this session carries
	expires time.Time
	created time.Time
	flashes []flash
}

// flash is a message shown once, on the next page the session opens: the
// outcome of a form, or a secret shown once.
type flash struct {
	Kind    string // "ok", "warn", "error" or "secret"
	Message string
	Secret  string
}

// sessions are the signed-in browsers of this process, kept in memory: a
// restart signs everyone out, and with several nodes a browser must keep
// to the node it signed in on (docs/dashboard.md).
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	ttl time.Duration
	max int
	now func() time.Time
}

func newSessions(ttl time.Duration, maxN int, now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, ttl: ttl, max: maxN, now: now}
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return an error
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create opens a session for key, ending expired ones, and the oldest
// when the bound is reached.
func (s *sessions) create(key string) *session {
	return s.add(&session{key: key}, s.ttl)
}

// createPortal opens a portal session of tenantID.
func (s *sessions) createPortal(tenantID string) *session {
	return s.add(&session{tenant: tenantID}, PortalSessionTTL)
}

func (s *sessions) add(ss *session, ttl time.Duration) *session {
	now := s.now()
	ss.id, ss.csrf, ss.created, ss.expires = randomToken(), randomToken(), now, now.Add(ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		var oldest *session
		for id, o := range s.m {
			if !now.Before(o.expires) {
				delete(s.m, id)
			} else if oldest == nil || o.created.Before(oldest.created) {
				oldest = o
			}
		}
		if len(s.m) >= s.max && oldest != nil {
			delete(s.m, oldest.id)
		}
	}
	s.m[ss.id] = ss
	return ss
}

// get returns the live session with this id, or nil.
func (s *sessions) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[id]
	if ss == nil {
		return nil
	}
	if !s.now().Before(ss.expires) {
		delete(s.m, id)
		return nil
	}
	return ss
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

func (s *sessions) addFlash(ss *session, f flash) {
	s.mu.Lock()
	ss.flashes = append(ss.flashes, f)
	s.mu.Unlock()
}

// takeFlashes returns the session's flashes and forgets them: each is
// shown once.
func (s *sessions) takeFlashes(ss *session) []flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := ss.flashes
	ss.flashes = nil
	return f
}

// secure reports whether the browser reached Herald over TLS, so cookies
// may be marked Secure.
func (h *Handler) secure(r *http.Request) bool {
	return r.TLS != nil || (h.cfg.TrustForwardedProto && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/", HttpOnly: true, Secure: h.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: int(maxAge / time.Second),
	}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// session returns the request's live operator session, or nil.
func (h *Handler) session(r *http.Request) *session {
	return h.sessionIn(r, sessionCookie, false)
}

// portalSession returns the request's live portal session, or nil.
func (h *Handler) portalSession(r *http.Request) *session {
	return h.sessionIn(r, portalCookie, true)
}

func (h *Handler) sessionIn(r *http.Request, cookie string, portal bool) *session {
	c, err := r.Cookie(cookie)
	if err != nil || c.Value == "" {
		return nil
	}
	ss := h.sessions.get(c.Value)
	if ss == nil || (ss.tenant != "") != portal {
		return nil
	}
	return ss
}

// errCSRF is a form sent without this session's token, or from another
// origin.
var errCSRF = herald.Errorf(herald.ErrForbidden, "this form has expired or came from another site; reload the page and try again")

// sameOrigin refuses a POST whose Origin (sent by every current browser)
// is not this server: a second line behind the token and SameSite.
func (h *Handler) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host != r.Host {
		return false
	}
	return u.Scheme == "https" || !h.secure(r)
}

// readForm parses a POST's form within maxFormBytes.
func readForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return herald.Errorf(herald.ErrInvalid, "the form is larger than %d bytes", maxFormBytes)
		}
		return herald.Errorf(herald.ErrInvalid, "the form could not be read: %v", err)
	}
	return nil
}

func tokenEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// admin wraps a page that needs a signed-in admin: without a session a GET
// goes to the sign-in form (and back afterwards), anything else is
// refused. The session's key is checked again on every request, so a key
// deleted through the API ends its sessions. A POST must carry the
// session's CSRF token. A portal session has no such page: they are 404
// to it, but for / which leads to its tenant.
func (h *Handler) admin(next func(w http.ResponseWriter, r *http.Request, ss *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		ss, ok := h.adminSession(w, r)
		if !ok {
			return
		}
		if ss == nil {
			if ps := h.portalSession(r); ps != nil {
				if r.Method == http.MethodGet && r.URL.Path == "/" {
					http.Redirect(w, r, tenantPath(ps.tenant), http.StatusSeeOther)
					return
				}
				h.notFound(w, r, ps)
				return
			}
		}
		h.serveAs(w, r, ss, next)
	}
}

// tenantScoped wraps a page of one tenant ({tenant} in its path): an
// operator's session may see it as admin does, and a portal session when
// it is that tenant's; to a portal session every other tenant's page is
// 404, as if it did not exist. A portal page may be framed by the
// tenant's portal origins only.
func (h *Handler) tenantScoped(next func(w http.ResponseWriter, r *http.Request, ss *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		ss, ok := h.adminSession(w, r)
		if !ok {
			return
		}
		if ss == nil {
			if ps := h.portalSession(r); ps != nil {
				if r.PathValue("tenant") != ps.tenant {
					h.notFound(w, r, ps)
					return
				}
				t, err := h.tenants.Get(r.Context(), ps.tenant)
				if err != nil {
					h.renderError(w, r, ps, err)
					return
				}
				h.framedBy(w, t.PortalOrigins)
				ss = ps
			}
		}
		h.serveAs(w, r, ss, next)
	}
}

// notFound is the answer to a page a session may not see: the same as for
// one that does not exist.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, ss *session) {
	h.renderStatus(w, r, ss, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
}

// framedBy lets a tenant's portal origins frame this answer (none: no
// frame at all).
func (h *Handler) framedBy(w http.ResponseWriter, origins []string) {
	if len(origins) == 0 {
		return
	}
	w.Header().Set("Content-Security-Policy", cspFramedBy(origins))
	w.Header().Del("X-Frame-Options")
}

// adminSession is the request's operator session with its key checked
// again, nil for none; false when it has answered (an error).
func (h *Handler) adminSession(w http.ResponseWriter, r *http.Request) (*session, bool) {
	ss := h.session(r)
	if ss == nil {
		return nil, true
	}
	k, err := h.keys.Authenticate(r.Context(), ss.key)
	switch {
	case errors.Is(err, herald.ErrUnauthorized) || (err == nil && k.TenantID != ""):
		h.sessions.end(ss.id)
		return nil, true
	case err != nil:
		h.renderError(w, r, nil, err)
		return nil, false
	}
	return ss, true
}

// serveAs runs next for the session ss, or, with none, sends a GET to the
// sign-in form and refuses anything else; a POST must carry the session's
// CSRF token and come from this server.
func (h *Handler) serveAs(w http.ResponseWriter, r *http.Request, ss *session, next func(w http.ResponseWriter, r *http.Request, ss *session)) {
	if ss == nil {
		if r.Method == http.MethodGet {
			if r.Header.Get("HX-Request") != "" {
				// A poll from a page whose session ended: reload it
				// whole, which leads to the sign-in form.
				w.Header().Set("HX-Refresh", "true")
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h.renderStatus(w, r, nil, http.StatusUnauthorized, "You are signed out. Sign in again, then send the form once more.")
		return
	}
	if r.Method == http.MethodPost {
		if err := readForm(w, r); err != nil {
			h.renderError(w, r, ss, err)
			return
		}
		if !h.sameOrigin(r) || !tokenEqual(r.PostForm.Get("csrf"), ss.csrf) {
			h.renderError(w, r, ss, errCSRF)
			return
		}
	}
	next(w, r, ss)
}

// localPath is next when it is a path on this server, else "/": the
// sign-in form never sends a browser elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

type signInData struct {
	Next  string
	Token string
	Error string
}

func (h *Handler) signInForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if h.session(r) != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	h.renderSignIn(w, r, http.StatusOK, "")
}

func (h *Handler) renderSignIn(w http.ResponseWriter, r *http.Request, status int, msg string) {
	tok := randomToken()
	h.setCookie(w, r, signInCookie, tok, signInTTL)
	h.render(w, r, status, "signin", &page{Title: "Sign in", Data: &signInData{
		Next: localPath(cmpOr(r.FormValue("next"), r.URL.Query().Get("next"))), Token: tok, Error: msg,
	}})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// signIn takes an admin key from the form's password field "key" and
// opens a session.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := readForm(w, r); err != nil {
		h.renderError(w, r, nil, err)
		return
	}
	c, err := r.Cookie(signInCookie)
	if err != nil || !h.sameOrigin(r) || !tokenEqual(r.PostForm.Get("csrf"), c.Value) {
		h.renderSignIn(w, r, http.StatusForbidden, "The sign-in form expired. Enter the key again.")
		return
	}
	k, err := h.keys.Authenticate(r.Context(), strings.TrimSpace(r.PostForm.Get("key")))
	switch {
	case errors.Is(err, herald.ErrUnauthorized):
		h.renderSignIn(w, r, http.StatusUnauthorized, "That is not an API key this server knows.")
		return
	case err != nil:
		h.renderError(w, r, nil, err)
		return
	case k.TenantID != "":
		h.renderSignIn(w, r, http.StatusForbidden, "That is a tenant key; the dashboard takes an admin key.")
		return
	}
	// A session opened on an id the browser already had would let whoever
	// set that cookie share it: every sign-in gets a fresh id.
	if old := h.session(r); old != nil {
		h.sessions.end(old.id)
	}
	ss := h.sessions.create(strings.TrimSpace(r.PostForm.Get("key")))
	h.setCookie(w, r, signInCookie, "", -1)
	h.setCookie(w, r, sessionCookie, ss.id, h.sessions.ttl)
	h.log.Info("dashboard sign-in", "key_id", k.ID)
	http.Redirect(w, r, localPath(r.PostForm.Get("next")), http.StatusSeeOther)
}

// signOut ends the session. It takes the session's token, so another site
// cannot sign a user out either.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := readForm(w, r); err != nil {
		h.renderError(w, r, nil, err)
		return
	}
	if ss := h.session(r); ss != nil {
		if !h.sameOrigin(r) || !tokenEqual(r.PostForm.Get("csrf"), ss.csrf) {
			h.renderError(w, r, ss, errCSRF)
			return
		}
		h.sessions.end(ss.id)
		h.setCookie(w, r, sessionCookie, "", -1)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	if ps := h.portalSession(r); ps != nil {
		if !h.sameOrigin(r) || !tokenEqual(r.PostForm.Get("csrf"), ps.csrf) {
			h.renderError(w, r, ps, errCSRF)
			return
		}
		h.sessions.end(ps.id)
		h.setCookie(w, r, portalCookie, "", -1)
		h.renderStatus(w, r, nil, http.StatusOK, "You are signed out of the portal. Open a new portal link to come back.")
		return
	}
	h.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
