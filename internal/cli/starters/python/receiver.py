"""A receiver for Herald webhooks in the default standard-webhooks format.

It verifies each request's signature on the raw body, handles each event once
(Herald retries until it gets a 2xx, so an event can arrive twice), answers
2xx fast, and logs event types it does not know instead of failing. It uses
the Python standard library only (Python 3.7 or newer):

    HERALD_WEBHOOK_SECRET=whsec_... PORT=3000 python3 receiver.py
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


def handle(event):
    """Acts on one event. Keep it fast: Herald waits for the answer (30 seconds
    at most by default), so put slow work on a queue and return."""
    event_id, event_type = event.get("id"), event.get("type")
    if event_type == "webhook.test":
        log("webhook %s (%s) handled: test event received" % (event_id, event_type))
    elif event_type == "user.created":
        log("webhook %s (%s) handled: user %s" % (event_id, event_type, event["data"]["id"]))
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
        try:
            event = json.loads(body)
        except ValueError:
            return self.reply(400, {"error": "body is not a JSON event"})
        # webhook-id is the event's id: the same on every retry of the event.
        msg_id = self.headers.get("webhook-id")
        with self.lock:
            duplicate = msg_id in self.seen
            self.seen.add(msg_id)
        if duplicate:
            log("webhook %s duplicate: already handled, skipped" % msg_id)
            return self.reply(200, {"received": True, "duplicate": True})
        try:
            handle(event)
        except Exception as err:  # not handled: let Herald's retry try again
            with self.lock:
                self.seen.discard(msg_id)
            log("webhook %s (%s) failed: %s" % (msg_id, event.get("type"), err))
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
    # PORT defaults to 3000; HOST to every interface.
    port = int(os.environ.get("PORT") or 3000)
    server = ThreadingHTTPServer((os.environ.get("HOST", ""), port), Receiver)
    log("receiving webhooks on port %d, POST /webhooks" % port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
