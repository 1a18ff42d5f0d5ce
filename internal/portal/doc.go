// Package portal owns the links of the customer portal: the signed token
// a link carries (HMAC-SHA256 over a tenant id and an expiry, with a
// secret made once in the store and shared by every node), how long a
// link may last, and the check of a token a browser brings back. The API
// makes links and the dashboard takes them; neither knows the token's form.
package portal
