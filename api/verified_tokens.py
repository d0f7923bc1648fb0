"""Tokens this process has already verified, remembered until they expire.

Verifying an HS256 token (decode, HMAC, claim checks) costs about 0.1 ms, and a product's client sends the
same token with every request until it expires. A verified token's principal cannot change (the signature
covers every claim and the keys are fixed for the process), so it is remembered with its ``exp`` and checked
against the clock on every use. Tokens that fail are not remembered: each is verified, and refused, again.
"""

from __future__ import annotations

import time

import cachetools
import jwt

from api.auth import Principal, TokenVerifier

REMEMBERED_TOKENS = 10_000


class VerifiedTokens:
    """The principal of each token verified so far, until its ``exp``; an LRU bounded in tokens.

    Used from the event loop only (``get_principal`` and the answer cache are async), so it takes no lock.
    """

    def __init__(self, verifier: TokenVerifier, size: int = REMEMBERED_TOKENS) -> None:
        self.verifier = verifier
        self.remembered: cachetools.LRUCache[str, tuple[Principal, float]] = cachetools.LRUCache(maxsize=size)

    def principal(self, token: str) -> Principal:
        """The token's principal; ``AuthenticationFailed`` (from the verifier) for an invalid or expired one."""
        hit = self.remembered.get(token)
        if hit is not None and time.time() < hit[1]:
            return hit[0]
        principal = self.verifier.verify(token)
        expires = jwt.decode(token, options={"verify_signature": False})["exp"]
        self.remembered[token] = (principal, float(expires))
        return principal
