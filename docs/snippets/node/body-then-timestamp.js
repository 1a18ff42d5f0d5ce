const crypto = require('node:crypto');

// verifyBodyThenTimestamp checks the "body-then-timestamp" scheme: one header
// holds the Unix timestamp, the other the hex HMAC-SHA256 of
// "{raw body}.{timestamp}" under the secret's UTF-8 bytes. It throws when
// the signature does not match or the timestamp is further from now than
// toleranceSeconds.
function verifyBodyThenTimestamp(rawBody, timestamp, signature, secret, toleranceSeconds = 300) {
  const ts = String(timestamp || '');
  if (!/^[0-9]+$/.test(ts)) {
    throw new Error('malformed timestamp header');
  }
  const sig = Buffer.from(String(signature || ''), 'hex');
  const expected = crypto.createHmac('sha256', secret).update(rawBody).update(`.${ts}`).digest();
  if (sig.length !== expected.length || !crypto.timingSafeEqual(sig, expected)) {
    throw new Error('signature does not match');
  }
  if (Math.abs(Date.now() / 1000 - Number(ts)) > toleranceSeconds) {
    throw new Error('timestamp outside the tolerance');
  }
}

module.exports = { verifyBodyThenTimestamp };
