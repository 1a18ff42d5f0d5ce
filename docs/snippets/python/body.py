import base64
import hashlib
import hmac


def verify_body(raw_body: bytes, header: str, secret: str, prefix: str = "sha256=", encoding: str = "hex") -> None:
    """Checks the "body" scheme: the header is prefix + the HMAC-SHA256 of the
    raw body under the secret's UTF-8 bytes, in hex or base64 as the format
    says. There is no timestamp: de-duplicate by event id to refuse a replayed
    request. Raises ValueError when the signature does not match.
    """
    if not header or not header.startswith(prefix):
        raise ValueError("malformed signature header")
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    sig = header[len(prefix):]
    if encoding == "hex":
        expected, sig = digest.hex(), sig.lower()
    else:
        expected = base64.b64encode(digest).decode()
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        raise ValueError("signature does not match")
