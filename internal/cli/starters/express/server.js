// A receiver for Herald webhooks in the default standard-webhooks format.
// It verifies each request's signature on the raw body, handles each event
// once (Herald retries until it gets a 2xx, so an event can arrive twice),
// answers 2xx fast, and logs event types it does not know instead of failing.
//
//   npm install
//   HERALD_WEBHOOK_SECRET=whsec_... node server.js
//
// It listens on 127.0.0.1 (HOST to change it, 0.0.0.0 for every interface)
// and port 3000 (PORT).
'use strict';

const express = require('express');
const { Webhook } = require('standardwebhooks');

const secret = process.env.HERALD_WEBHOOK_SECRET;
if (!secret) {
  console.error("set HERALD_WEBHOOK_SECRET to the endpoint's secret (whsec_...)");
  process.exit(1);
}
// The library decodes the base64 after whsec_ and checks the timestamp is
// within 5 minutes of this machine's clock.
const wh = new Webhook(secret);

// The ids of the events handled. In memory they are lost on a restart and
// not shared between instances: in production, keep them in your database
// (a table with a unique key on the id).
const seen = new Set();

const app = express();

// express.raw keeps the body as the exact bytes received: the signature is
// over those bytes, so do not let express.json() parse it first.
app.post('/webhooks', express.raw({ type: 'application/json', limit: '1mb' }), (req, res) => {
  if (!Buffer.isBuffer(req.body)) {
    return res.status(400).json({ error: 'expected an application/json body' });
  }
  let event;
  try {
    event = wh.verify(req.body, req.headers);
  } catch (err) {
    console.log(`webhook rejected: ${err.message}`);
    return res.status(401).json({ error: 'invalid signature' });
  }
  // webhook-id is the event's id: the same on every retry of the event.
  const id = req.get('webhook-id');
  if (seen.has(id)) {
    console.log(`webhook ${id} duplicate: already handled, skipped`);
    return res.status(200).json({ received: true, duplicate: true });
  }
  seen.add(id);
  try {
    handle(id, event);
  } catch (err) {
    seen.delete(id); // not handled: let Herald's retry try again
    console.log(`webhook ${id} (${event?.type}) failed: ${err.message}`);
    return res.status(500).json({ error: 'temporary failure' });
  }
  res.status(200).json({ received: true });
});

// handle acts on one event. Keep it fast: Herald waits for the answer (30
// seconds at most by default), so put slow work on a queue and return. The
// event's shape is the sender's to choose (a test send may carry any data):
// read fields with ?. and never throw on a missing one, since a throw
// answers 500 and Herald retries for days what no retry can mend.
function handle(id, event) {
  const type = typeof event?.type === 'string' ? event.type : 'no type';
  switch (type) {
    case 'webhook.test':
      console.log(`webhook ${id} (${type}) handled: test event received`);
      break;
    case 'user.created': {
      const userId = event?.data?.id;
      console.log(`webhook ${id} (${type}) handled: ${userId === undefined ? 'no user id in data' : `user ${userId}`}`);
      break;
    }
    default:
      // A new event type must not fail the delivery: log it and answer 2xx,
      // or Herald would retry it for days.
      console.log(`webhook ${id} (${type}) ignored: unknown event type`);
  }
}

// 127.0.0.1 by default: only this machine can reach the receiver until you
// choose otherwise (HOST=0.0.0.0 behind your proxy, in a container).
const host = process.env.HOST || '127.0.0.1';
const port = Number(process.env.PORT || 3000);
app.listen(port, host, () => {
  console.log(`receiving webhooks on http://${host}:${port}/webhooks`);
});
