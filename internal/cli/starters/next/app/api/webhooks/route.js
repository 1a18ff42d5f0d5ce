// A Next.js App Router route handler (POST /api/webhooks) that receives
// Herald webhooks in the default standard-webhooks format. It verifies each
// request's signature on the raw body, handles each event once (Herald
// retries until it gets a 2xx, so an event can arrive twice), answers 2xx
// fast, and logs event types it does not know instead of failing.
import { Webhook } from 'standardwebhooks';

// The ids of the events handled. In memory they are lost on a restart and
// not shared between instances (nor between serverless invocations): in
// production, keep them in your database (a table with a unique key on the id).
const seen = new Set();

let wh;

export async function POST(req) {
  const secret = process.env.HERALD_WEBHOOK_SECRET;
  if (!secret) {
    console.error("set HERALD_WEBHOOK_SECRET to the endpoint's secret (whsec_...)");
    return json({ error: 'receiver not configured' }, 500);
  }
  // The library decodes the base64 after whsec_ and checks the timestamp is
  // within 5 minutes of this machine's clock.
  wh ??= new Webhook(secret);

  // The raw body, as text: the signature is over the exact bytes sent, so
  // never verify JSON.stringify(await req.json()).
  const body = await req.text();
  let event;
  try {
    event = wh.verify(body, Object.fromEntries(req.headers));
  } catch (err) {
    console.log(`webhook rejected: ${err.message}`);
    return json({ error: 'invalid signature' }, 401);
  }
  // webhook-id is the event's id: the same on every retry of the event.
  const id = req.headers.get('webhook-id');
  if (seen.has(id)) {
    console.log(`webhook ${id} duplicate: already handled, skipped`);
    return json({ received: true, duplicate: true }, 200);
  }
  seen.add(id);
  try {
    await handle(id, event);
  } catch (err) {
    seen.delete(id); // not handled: let Herald's retry try again
    console.log(`webhook ${id} (${event?.type}) failed: ${err.message}`);
    return json({ error: 'temporary failure' }, 500);
  }
  return json({ received: true }, 200);
}

// handle acts on one event. Keep it fast: Herald waits for the answer (30
// seconds at most by default), so put slow work on a queue and return. The
// event's shape is the sender's to choose (a test send may carry any data):
// read fields with ?. and never throw on a missing one, since a throw
// answers 500 and Herald retries for days what no retry can mend.
async function handle(id, event) {
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

function json(value, status) {
  return new Response(JSON.stringify(value), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}
