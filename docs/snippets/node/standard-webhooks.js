const { Webhook } = require('standardwebhooks');

// verifyStandard checks the default standard-webhooks scheme with the
// Standard Webhooks library and returns the parsed event; it throws a
// WebhookVerificationError when the request is not authentic or is more than
// 5 minutes old. rawBody is the body as received (a Buffer or a string);
// headers maps header names to values, as Express's req.headers or
// Object.fromEntries(request.headers) give them.
function verifyStandard(rawBody, headers, secret) {
  return new Webhook(secret).verify(rawBody, headers);
}

module.exports = { verifyStandard };
