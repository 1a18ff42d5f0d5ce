import hashlib
import hmac
import time


def verify_body_then_timestamp(raw_body: bytes, timestamp: str, signature: str, secret: str, tolerance: int = 300) -> None:
    """Checks the "body-then-timestamp" scheme: one header holds the Unix
    timestamp, the other the hex HMAC-SHA256 of "{raw body}.{timestamp}" under
    the secret's UTF-8 bytes. Raises ValueError when the signature does not
    match or the timestamp is further from now than tolerance.
    """
    ts = timestamp or ""
    if not (ts.isascii() and ts.isdigit()):
        raise ValueError("malformed timestamp header")
    expected = hmac.new(secret.encode(), raw_body + b"." + ts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest((signature or "").lower().encode(), expected.encode()):
        raise ValueError("signature does not match")
    if abs(time.time() - int(ts)) > tolerance:
        raise ValueError("timestamp outside the tolerance")
