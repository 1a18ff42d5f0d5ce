import base64
import binascii
import hashlib
import hmac
import time


def verify_standard(raw_body: bytes, headers, secret: str, tolerance: int = 300) -> None:
    """Checks the default standard-webhooks scheme with the standard library.

    headers is a mapping whose get() finds webhook-id, webhook-timestamp and
    webhook-signature (the request headers of any framework). The key is the
    base64 after "whsec_", decoded; the signed content is
    "{webhook-id}.{webhook-timestamp}.{raw body}". Raises ValueError when no
    signature matches or the timestamp is further from now than tolerance.
    """
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not msg_id or not ts or not sigs or not (ts.isascii() and ts.isdigit()):
        raise ValueError("missing or malformed webhook headers")
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    expected = hmac.new(key, f"{msg_id}.{ts}.".encode() + raw_body, hashlib.sha256).digest()
    matched = False
    for entry in sigs.split():
        version, _, sig = entry.partition(",")
        try:
            got = base64.b64decode(sig, validate=True)
        except (binascii.Error, ValueError):
            continue
        if version == "v1" and hmac.compare_digest(got, expected):
            matched = True
    if not matched:
        raise ValueError("no signature matches")
    if abs(time.time() - int(ts)) > tolerance:
        raise ValueError("timestamp outside the tolerance")
