"""The carrier page's sign-in: an API key exchanged for a signed session cookie, and CSRF.

The cookie (`HttpOnly`, `SameSite=Strict`, `Path=/track`, `Secure` over https) holds the
SHA-256 digest of the carrier's key, an expiry and a CSRF token, signed with
`API_SESSION_SECRET` (itsdangerous). Every request looks the key up again, so a revoked
key signs the page out at once. State-changing requests (sign in, sign out) must carry
the CSRF token in their form: the session's, or before sign-in the one of the
`mc_csrf` cookie the sign-in form was served with (double submit). SameSite=Strict
already keeps other sites' requests from carrying the cookie; the token also covers
browsers that ignore it.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "mc_session"
CSRF_COOKIE = "mc_csrf"
COOKIE_PATH = "/track"


@dataclass(frozen=True, slots=True)
class Session:
    key_hash: str
    csrf: str


class SessionCodec:
    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="track-session")
        self.max_age = max_age_seconds

    def issue(self, key_hash: str) -> tuple[str, Session]:
        session = Session(key_hash, new_token())
        return self._serializer.dumps({"k": key_hash, "c": session.csrf}), session

    def read(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:  # also expired (SignatureExpired is a BadSignature)
            return None
        if not isinstance(data, dict) or not {"k", "c"} <= data.keys():
            return None
        return Session(str(data["k"]), str(data["c"]))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
