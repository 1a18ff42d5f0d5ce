package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/portal"
)

// portalEnter takes the token of a portal link (POST
// /api/v1/tenants/{tenant}/portal-links) and opens a portal session of its
// tenant: the browser then sees that tenant's pages and no other's. An
// expired link is 401 and one Herald did not sign 403, each a page that
// says so.
func (h *Handler) portalEnter(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	tid, _, err := h.portal.Check(r.Context(), r.URL.Query().Get("token"))
	if err == nil {
		tn, gerr := h.tenants.Get(r.Context(), tid)
		if gerr != nil {
			// A link to a tenant deleted since: as good as a bad link.
			if errors.Is(gerr, herald.ErrNotFound) {
				gerr = portal.ErrInvalidToken
			}
			h.renderError(w, r, nil, gerr)
			return
		}
		h.framedBy(w, tn.PortalOrigins)
		// An operator's portal session (or an older link's) in this
		// browser ends: every link opened gets a fresh session id.
		if old := h.portalSession(r); old != nil {
			h.sessions.end(old.id)
		}
		ss := h.sessions.createPortal(tn.ID)
		h.setPortalCookie(w, r, ss.id, len(tn.PortalOrigins) > 0)
		h.log.Info("portal link opened", "tenant", tn.ID)
		http.Redirect(w, r, tenantPath(tn.ID), http.StatusSeeOther)
		return
	}
	h.renderError(w, r, nil, err)
}

// setPortalCookie sets the portal session's cookie. It is SameSite=Lax,
// so that a link opened from a mail or another site brings it along
// through the redirect; forms still need their token, and Lax sends it
// with no cross-site POST. When the tenant's portal may be framed, and
// only over TLS, it is SameSite=None and Partitioned, which is what lets a
// browser send it from within another site's frame.
func (h *Handler) setPortalCookie(w http.ResponseWriter, r *http.Request, value string, framed bool) {
	c := &http.Cookie{
		Name: portalCookie, Value: value, Path: "/", HttpOnly: true, Secure: h.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(PortalSessionTTL.Seconds()),
	}
	if framed && c.Secure {
		c.SameSite, c.Partitioned = http.SameSiteNoneMode, true
	}
	http.SetCookie(w, c)
}

// cspFramedBy is the Content-Security-Policy of a portal page that these
// origins (each checked by tenant.CanonicalOrigin) may frame.
func cspFramedBy(origins []string) string {
	return strings.Replace(csp, "frame-ancestors 'none'", "frame-ancestors "+strings.Join(origins, " "), 1)
}
