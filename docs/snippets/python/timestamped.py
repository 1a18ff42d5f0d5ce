import hashlib
import hmac
import time


def verify_timestamped(raw_body: bytes, header: str, secret: str, tolerance: int = 300) -> None:
    """Checks the "timestamped" scheme.

    The header is "t=<unix>,v1=<hex>[,v1=<hex>...]" (one v1 per secret during
    a rotation); each v1 is the hex HMAC-SHA256 of "{t}.{raw body}" under the
    secret's UTF-8 bytes. Raises ValueError when no signature matches or t is
    further from now than tolerance.
    """
    t, sigs = "", []
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            t = value
        elif key == "v1" and value:
            sigs.append(value.lower().encode())
    if not (t.isascii() and t.isdigit()) or not sigs:
        raise ValueError("malformed signature header")
    expected = hmac.new(secret.encode(), t.encode() + b"." + raw_body, hashlib.sha256).hexdigest().encode()
    if not any(hmac.compare_digest(sig, expected) for sig in sigs):
        raise ValueError("no signature matches")
    if abs(time.time() - int(t)) > tolerance:
        raise ValueError("timestamp outside the tolerance")
