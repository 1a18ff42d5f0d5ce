"""A receiver for Herald webhooks in the default standard-webhooks format.

It verifies each request's signature on the raw body, handles each event once
(Herald retries until it gets a 2xx, so an event can arrive twice), answers
2xx fast, and logs event types it does not know instead of failing. It uses
the Python standard library only (Python 3.7 or newer):

    HERALD_WEBHOOK_SECRET=whsec_... python3 receiver.py

It listens on 127.0.0.1 (HOST to change it, 0.0.0.0 for every interface)
and port 3000 (PORT).
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# How far webhook-timestamp may be from this machine's clock, either way, in
# seconds. A captured request replayed later than this is refused.
TOLERANCE = 5 * 60
MAX_BODY = 1 << 20


def log(message):
    print(message, flush=True)


def decode_secret(secret):
    """The HMAC key of a standard-webhooks secret: the base64 after whsec_."""
    if secret.startswith("whsec_"):
        secret = secret[len("whsec_"):]
    try:
        key = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise SystemExit("HERALD_WEBHOOK_SECRET is not whsec_ followed by base64")
    return key


def verify(key, headers, body, now=None):
    """Checks a standard-webhooks signature, raising ValueError when it fails.

    The signature is HMAC-SHA256 under key of "{webhook-id}.{webhook-timestamp}.{body}",
    base64, among the space-separated "v1,<signature>" entries of
    webhook-signature (there are two during a secret rotation).
    """
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not msg_id or not ts or not sigs:
        raise ValueError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent_at = int(ts)
    except ValueError:
        raise ValueError("webhook-timestamp is not Unix seconds")
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    want = hmac.new(key, signed, hashlib.sha256).digest()
    ok = False
    for entry in sigs.split():
        version, _, sig = entry.partition(",")
        try:
            got = base64.b64decode(sig, validate=True)
        except (binascii.Error, ValueError):
            continue
        if version == "v1" and hmac.compare_digest(got, want):
            ok = True
    if not ok:
        raise ValueError("no signature matches the secret")
    now = time.time() if now is None else now
    if abs(now - sent_at) > TOLERANCE:
        raise ValueError("timestamp %s is more than %ds away from now" % (ts, TOLERANCE))


def field(value, name):
    """value[name] when value is an object that has it, else None: an event's
    shape is the sender's to choose (a test send may carry any data), so
    read it without assuming."""
    return value.get(name) if isinstance(value, dict) else None


def handle(event_id, event):
    """Acts on one event. Keep it fast: Herald waits for the answer (30 seconds
    at most by default), so put slow work on a queue and return. A missing
    field is not a reason to fail: an exception here answers 500, and Herald
    retries for days what no retry can mend."""
    event_type = field(event, "type")
    if not isinstance(event_type, str):
        event_type = "no type"
    data = field(event, "data")
    if event_type == "webhook.test":
        log("webhook %s (%s) handled: test event received" % (event_id, event_type))
    elif event_type == "user.created":
        user_id = field(data, "id")
        if user_id is None:
            log("webhook %s (%s) handled: no user id in data" % (event_id, event_type))
        else:
            log("webhook %s (%s) handled: user %s" % (event_id, event_type, user_id))
    else:
        # A new event type must not fail the delivery: log it and answer 2xx,
        # or Herald would retry it for days.
        log("webhook %s (%s) ignored: unknown event type" % (event_id, event_type))


class Receiver(BaseHTTPRequestHandler):
    key = b""
    # The ids of the events handled. In memory they are lost on a restart and
    # not shared between processes: in production, keep them in your database
    # (a table with a unique key on the id).
    seen = set()
    lock = threading.Lock()

    def do_POST(self):
        if self.path.split("?")[0] != "/webhooks":
            return self.reply(404, {"error": "not found"})
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.reply(413, {"error": "body too large"})
        # The raw body: verify these exact bytes before parsing them.
        body = self.rfile.read(length)
        try:
            verify(self.key, self.headers, body)
        except ValueError as err:
            log("webhook rejected: %s" % err)
            return self.reply(401, {"error": "invalid signature"})
        # webhook-id is the event's id: the same on every retry of the event.
        msg_id = self.headers.get("webhook-id")
        try:
            event = json.loads(body)
        except ValueError as err:
            # Signed, so sent by Herald, but not JSON: a retry would bring the
            # same bytes, so accept it and say so.
            log("webhook %s ignored: the body is not JSON: %s" % (msg_id, err))
            return self.reply(200, {"received": True})
        with self.lock:
            duplicate = msg_id in self.seen
            self.seen.add(msg_id)
        if duplicate:
            log("webhook %s duplicate: already handled, skipped" % msg_id)
            return self.reply(200, {"received": True, "duplicate": True})
        try:
            handle(msg_id, event)
        except Exception as err:  # not handled: let Herald's retry try again
            with self.lock:
                self.seen.discard(msg_id)
            log("webhook %s (%s) failed: %s" % (msg_id, field(event, "type"), err))
            return self.reply(500, {"error": "temporary failure"})
        self.reply(200, {"received": True})

    def reply(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


def main():
    secret = os.environ.get("HERALD_WEBHOOK_SECRET")
    if not secret:
        raise SystemExit("set HERALD_WEBHOOK_SECRET to the endpoint's secret (whsec_...)")
    Receiver.key = decode_secret(secret)
    # 127.0.0.1 by default: only this machine can reach the receiver until
    # you choose otherwise (HOST=0.0.0.0 behind your proxy, in a container).
    host = os.environ.get("HOST") or "127.0.0.1"
    port = int(os.environ.get("PORT") or 3000)
    server = ThreadingHTTPServer((host, port), Receiver)
    log("receiving webhooks on http://%s:%d/webhooks" % (host, port))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
