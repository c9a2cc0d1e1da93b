"""Sessions: password login that issues a JWT, and `whoami` for any credential.

Both are answered by the node the client talks to, leader or follower: the signing key
and the identity records are in the replicated state, so every node issues and
verifies the same tokens with no call to another node.

Every refusal is one fixed `Unauthenticated` phrase (no username hints, no echo of
the credential). Login attempts are rate-limited per (username, client address) on
this node; the limiter's clock is monotonic so a wall-clock jump cannot lift a block.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from conflux_node.auth.apikeys import PREFIX, parse_api_key
from conflux_node.auth.errors import TooManyRequests, Unauthenticated
from conflux_node.auth.passwords import check_password_input, verify_password
from conflux_node.auth.ratelimit import SlidingWindowLimiter
from conflux_node.auth.records import check_api_key
from conflux_node.auth.tokens import Claims, issue_token, new_jti, verify_token
from conflux_node.model import identity as ident
from conflux_node.model import keys
from conflux_node.model.errors import InvalidInput, Unavailable
from conflux_node.model.view import StateView
from conflux_node.service.bodies import reject_unknown, require_object
from conflux_node.service.proposing import Clock, utc_now

USER_SUBJECT = "user:"
ADDRESS_FAILURES = 30
"""Failed logins a minute from one address, whatever the usernames (spraying)."""
CONCURRENT_VERIFICATIONS = 2
"""argon2id checks at once: each takes 64 MiB and tens of milliseconds of a core."""
BAD_LOGIN = "invalid username or password"
MAX_USERNAME_CHARS = 256


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified credential speaks for.

    `actor` (`user:<name>` or `apikey:<id>`) is both the audit log's actor and the
    policy's subject. `expires_at` is when the credential stops being good (a token's
    `exp`, a key's expiry, None for a key without one): long-lived streams check it.
    """

    kind: str
    name: str
    expires_at: datetime | None
    system_admin: bool = False
    tenant: str | None = None
    role: str | None = None
    key_name: str | None = None  # an API key's name

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"


class Sessions:
    def __init__(
        self,
        view: StateView,
        *,
        token_ttl: int,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        limiter: SlidingWindowLimiter | None = None,
        signing_key: str | None = None,
        previous_key: str | None = None,
    ) -> None:
        self._view = view
        self._key_from_settings = signing_key
        self._previous_key = previous_key.encode() if previous_key else None
        self._ttl = timedelta(seconds=token_ttl)
        self._clock = clock
        self._monotonic = monotonic
        self._limiter = limiter or SlidingWindowLimiter()
        self._addresses = SlidingWindowLimiter(limit=ADDRESS_FAILURES)
        self._verifying = asyncio.Semaphore(CONCURRENT_VERIFICATIONS)

    def _signing_key(self) -> bytes:
        """`auth.token_key` when set, else the key the bootstrap put in the state."""
        key = self._key_from_settings or ident.read_jwt_key(self._view)
        if key is None:
            raise Unavailable("the cluster is not bootstrapped yet; retry shortly")
        return key.encode("utf-8")  # bootstrap: >= 43 random characters; settings: >= 32

    async def login(self, body: object, ip: str) -> dict[str, Any]:
        """`{token, expires_at}` for a right password; 401 otherwise, 429 past the limit."""
        data = require_object(body)
        reject_unknown(data, {"username", "password"})
        username = data.get("username")
        if not isinstance(username, str) or not username or len(username) > MAX_USERNAME_CHARS:
            raise InvalidInput("username must be a non-empty string", field="username")
        password = check_password_input(data.get("password"))  # type: ignore[arg-type]
        signing_key = self._signing_key()  # 503 before bootstrap, not a failed attempt
        limit_key = (username, ip)
        now_s = self._monotonic()
        if not self._addresses.check(ip, now_s):
            raise self._too_many(self._addresses, ip, now_s)
        if not self._limiter.attempt(limit_key, now_s):
            raise self._too_many(self._limiter, limit_key, now_s)
        user = ident.read_user(self._view, username)
        stored = user.password_hash if user is not None else None
        # argon2id is slow on purpose; an unknown user is checked against a dummy hash
        # so the answer takes as long and does not reveal which usernames exist.
        async with self._verifying:
            good = await asyncio.to_thread(verify_password, stored, password)
        if not good:
            self._addresses.hit(ip, self._monotonic())
            raise Unauthenticated(BAD_LOGIN)
        self._limiter.reset(limit_key)
        token, expires_at = issue_token(
            signing_key, USER_SUBJECT + username, self._clock(), self._ttl, jti=new_jti()
        )
        return {"token": token, "expires_at": expires_at.isoformat()}

    @staticmethod
    def _too_many(limiter: SlidingWindowLimiter, key: Hashable, now_s: float) -> TooManyRequests:
        wait = max(1, math.ceil(limiter.retry_after(key, now_s)))
        return TooManyRequests("too many login attempts; retry later", retry_after=wait)

    def whoami(self, authorization: str | None) -> dict[str, Any]:
        """`principal` as JSON, with a user's tenant roles; 401 for a bad credential."""
        who = self.principal(authorization)
        if who.kind == "apikey":
            return {
                "subject": who.name,
                "kind": "apikey",
                "name": who.key_name,
                "tenant": who.tenant,
                "role": who.role,
                "system_admin": False,
            }
        assert who.expires_at is not None  # a token always expires
        bindings = ident.bindings_of(self._view, who.name)
        return {
            "subject": who.name,
            "kind": "user",
            "system_admin": who.system_admin,
            "bindings": [{"tenant": b.tenant, "role": b.role} for b in bindings],
            "expires_at": who.expires_at.isoformat(),
        }

    def principal(self, authorization: str | None) -> Principal:
        """Who a `Bearer <JWT>` or `Bearer cfx_...` header speaks for; 401 otherwise."""
        if not authorization:
            raise Unauthenticated("credentials required: Authorization: Bearer <token or key>")
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthenticated("the Authorization header must be 'Bearer <token or key>'")
        if credential.startswith(PREFIX):
            return self._api_key(credential)
        return self._token(credential)

    def _api_key(self, credential: str) -> Principal:
        parsed = parse_api_key(credential)
        if parsed is None:
            raise Unauthenticated("invalid API key", reason="malformed")
        key_id, secret = parsed
        raw = self._view.get(keys.api_key_key(key_id))
        record: Mapping[str, Any] | None = json.loads(raw) if raw is not None else None
        found = check_api_key(record, key_id, secret, self._clock())
        expires = record.get("expires_at") if record is not None else None
        return Principal(
            "apikey",
            found.key_id,
            ident.parse_time("expires_at", expires) if expires else None,
            tenant=found.tenant,
            role=found.role,
            key_name=found.name,
        )

    def _verify(self, credential: str) -> Claims:
        """Verify with the signing key, then with the key it replaced (a rotation)."""
        now = self._clock()
        try:
            return verify_token(self._signing_key(), credential, now)
        except Unauthenticated as error:
            if self._previous_key is None or error.details.get("reason") != "signature":
                raise
        return verify_token(self._previous_key, credential, now)

    def _token(self, credential: str) -> Principal:
        claims = self._verify(credential)
        if not claims.subject.startswith(USER_SUBJECT):
            raise Unauthenticated("token subject not accepted")
        username = claims.subject[len(USER_SUBJECT) :]
        user = ident.read_user(self._view, username)
        if user is None:
            raise Unauthenticated("token subject no longer exists")
        changed = ident.parse_time("password_changed_at", user.password_changed_at)
        if claims.issued_at.timestamp() < math.floor(changed.timestamp()):
            raise Unauthenticated("token predates a password change")
        return Principal("user", username, claims.expires_at, system_admin=user.system_admin)
