const crypto = require('node:crypto');

// verifyBody checks the "body" scheme: the header is prefix + the HMAC-SHA256
// of the raw body under the secret's UTF-8 bytes, in hex or base64 as the
// format says. There is no timestamp: de-duplicate by event id to refuse a
// replayed request. It throws when the signature does not match.
function verifyBody(rawBody, header, secret, { prefix = 'sha256=', encoding = 'hex' } = {}) {
  const value = String(header || '');
  if (!value.startsWith(prefix)) {
    throw new Error('malformed signature header');
  }
  const sig = Buffer.from(value.slice(prefix.length), encoding);
  const expected = crypto.createHmac('sha256', secret).update(rawBody).digest();
  if (sig.length !== expected.length || !crypto.timingSafeEqual(sig, expected)) {
    throw new Error('signature does not match');
  }
}

module.exports = { verifyBody };
