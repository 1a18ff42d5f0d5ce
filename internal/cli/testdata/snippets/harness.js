// Runs the Node snippets of docs/receiving.md on the cases the Go test
// writes, and prints one result per case as JSON.
//   node harness.js SNIPPET_DIR CASES_FILE
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [dir, casesFile] = process.argv.slice(2);
const { verifyStandard } = require(path.resolve(dir, 'standard-webhooks.js'));
const { verifyTimestamped } = require(path.resolve(dir, 'timestamped.js'));
const { verifyBody } = require(path.resolve(dir, 'body.js'));
const { verifyBodyThenTimestamp } = require(path.resolve(dir, 'body-then-timestamp.js'));

const results = [];
for (const c of JSON.parse(fs.readFileSync(casesFile, 'utf8'))) {
  const body = Buffer.from(c.body, 'base64');
  const h = c.headers;
  try {
    switch (c.scheme) {
      case 'standard-webhooks':
        verifyStandard(body, h, c.secret);
        break;
      case 'timestamped':
        verifyTimestamped(body, h[c.header.toLowerCase()], c.secret);
        break;
      case 'body': {
        const opts = { encoding: c.encoding || 'hex' };
        if (c.prefix !== null) opts.prefix = c.prefix;
        verifyBody(body, h[c.header.toLowerCase()], c.secret, opts);
        break;
      }
      case 'body-then-timestamp':
        verifyBodyThenTimestamp(body, h[c.timestamp_header.toLowerCase()], h[c.header.toLowerCase()], c.secret);
        break;
      default:
        throw new Error(`unknown scheme ${c.scheme}`);
    }
    results.push({ ok: true });
  } catch (err) {
    results.push({ ok: false, error: String(err && err.message) });
  }
}
process.stdout.write(JSON.stringify(results));
