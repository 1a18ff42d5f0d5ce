// Package web is the operator dashboard: server-rendered HTML pages
// (html/template, with htmx for in-place updates) over the same services
// the API calls. It owns the dashboard's routes, its sign-in sessions and
// their CSRF tokens, its security headers and its embedded assets; every
// rule about tenants, endpoints, events and deliveries stays in their
// services, and handlers only decode a form, call a service and render.
package web
