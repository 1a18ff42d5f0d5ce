const crypto = require('node:crypto');

// verifyTimestamped checks the "timestamped" scheme. The header is
// "t=<unix>,v1=<hex>[,v1=<hex>...]" (one v1 per secret during a rotation);
// each v1 is the hex HMAC-SHA256 of "{t}.{raw body}" under the secret's
// UTF-8 bytes. It throws when no signature matches or t is further from now
// than toleranceSeconds.
function verifyTimestamped(rawBody, header, secret, toleranceSeconds = 300) {
  let t;
  const sigs = [];
  for (const item of String(header || '').split(',')) {
    const [key, value] = item.trim().split('=');
    if (key === 't') t = value;
    else if (key === 'v1' && value) sigs.push(Buffer.from(value, 'hex'));
  }
  if (!/^[0-9]+$/.test(t || '') || sigs.length === 0) {
    throw new Error('malformed signature header');
  }
  const expected = crypto.createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  if (!sigs.some((sig) => sig.length === expected.length && crypto.timingSafeEqual(sig, expected))) {
    throw new Error('no signature matches');
  }
  if (Math.abs(Date.now() / 1000 - Number(t)) > toleranceSeconds) {
    throw new Error('timestamp outside the tolerance');
  }
}

module.exports = { verifyTimestamped };
