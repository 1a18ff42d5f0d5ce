package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds each call when New is given no *http.Client of
// the caller's: long enough for a test send, which answers only once the
// receiver has (within its format's timeout, 30 s by default).
const DefaultTimeout = time.Minute

// maxErrorBody is how much of an error answer is read: problem details
// are small, and a proxy's error page need not be read whole.
const maxErrorBody = 64 << 10

// Client calls one Herald server with one API key. Its services group the
// calls by resource. A Client is safe for concurrent use.
type Client struct {
	// Tenants are the customers webhooks are sent to.
	Tenants *TenantsService
	// Keys are the admin and tenant API keys.
	Keys *KeysService
	// Endpoints are where a tenant's webhooks go.
	Endpoints *EndpointsService
	// Events are what producers send.
	Events *EventsService
	// Deliveries are one event at one endpoint, with their attempts.
	Deliveries *DeliveriesService
	// Replays are jobs that send an endpoint's deliveries of a window
	// again (Endpoints.Replay starts one).
	Replays *ReplaysService

	base      *url.URL
	key       string
	http      *http.Client
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc (its
// transport, its timeout) instead of one of its own with DefaultTimeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithUserAgent sets the User-Agent of every request (default
// "herald-client-go").
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a Client of the server at baseURL (http://127.0.0.1:8080,
// https://herald.example.com; a path prefix is kept, for a server behind a
// proxy under one) that authenticates with key, an admin key or a tenant
// key. It does no I/O.
func New(baseURL, key string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("herald client: server URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("herald client: server URL %q: want an absolute http:// or https:// URL, such as http://127.0.0.1:8080", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("herald client: server URL %q: want no user, query or fragment", baseURL)
	}
	if key == "" {
		return nil, errors.New("herald client: no API key")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, key: key, userAgent: "herald-client-go"}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	c.Tenants = &TenantsService{c}
	c.Keys = &KeysService{c}
	c.Endpoints = &EndpointsService{c}
	c.Events = &EventsService{c}
	c.Deliveries = &DeliveriesService{c}
	c.Replays = &ReplaysService{c}
	return c, nil
}

// BaseURL is the server URL the Client calls.
func (c *Client) BaseURL() string { return c.base.String() }

// Do sends one request to path (under /api/v1, such as
// "/tenants/acme/events"; segments already escaped, see PathEscape) with
// query and, unless in is nil, in as its JSON body, and decodes a JSON
// answer into out unless out is nil. It returns the answer's status. A
// status of 400 or more is an *Error. The services are written on it; it
// is here for the routes they do not cover.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any) (int, error) {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + "/api/v1" + path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return 0, fmt.Errorf("herald client: %s %s: %w", method, path, err)
	}
	u.Path = p
	u.RawQuery = query.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("herald client: %s %s: encode the request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, fmt.Errorf("herald client: %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("herald client: %w", err) // a *url.Error: the method, the URL, what failed
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return resp.StatusCode, errorFrom(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("herald client: %s %s: read the answer (%d): %w", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, nil
}

// PathEscape escapes one path segment (a tenant id, an event id) for Do.
func PathEscape(segment string) string { return url.PathEscape(segment) }

// path joins segments, each escaped: path("tenants", id, "events") is
// "/tenants/<id>/events". An empty segment (an id not given) is an error
// rather than a path to another route.
func path(segments ...string) (string, error) {
	var b strings.Builder
	empty := false
	for _, s := range segments {
		b.WriteByte('/')
		if s == "" {
			empty = true
			b.WriteString("{empty}")
			continue
		}
		b.WriteString(url.PathEscape(s))
	}
	if empty {
		return "", fmt.Errorf("herald client: %s: an id is empty", b.String())
	}
	return b.String(), nil
}
