// Calls the Next.js starter's route handler as Next.js would, with web
// Request objects, on the cases the Go test writes, and writes one
// {status, body} per case as JSON. No Next.js install is needed.
//   node next_harness.mjs ROUTE_JS CASES_FILE RESULTS_FILE
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [route, casesFile, resultsFile] = process.argv.slice(2);
const { POST } = await import(pathToFileURL(route).href);

const results = [];
for (const c of JSON.parse(readFileSync(casesFile, 'utf8'))) {
  const req = new Request('http://localhost/api/webhooks', {
    method: 'POST',
    headers: c.headers,
    body: Buffer.from(c.body, 'base64'),
  });
  const res = await POST(req);
  results.push({ status: res.status, body: await res.text() });
}
writeFileSync(resultsFile, JSON.stringify(results));
