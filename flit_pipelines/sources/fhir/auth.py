"""Authorisation of the FHIR reader: a bearer token the server issued, or SMART Backend Services.

SMART App Launch 2.x, "Backend Services" (https://hl7.org/fhir/smart-app-launch/backend-services.html):

* discovery: ``GET [base]/.well-known/smart-configuration`` -> ``token_endpoint`` (and the signing
  algorithms it takes); ``FHIR_TOKEN_URL`` replaces discovery for servers that do not offer it;
* the client authenticates with a signed JWT (RFC 7523 ``private_key_jwt``): header ``alg`` RS384
  (RSA key) or ES384 (EC P-384 key), ``kid`` when configured, ``typ: JWT``; claims ``iss`` = ``sub``
  = client_id, ``aud`` = the token endpoint URL, ``exp`` at most five minutes ahead, ``jti`` unique
  per assertion (a random 128-bit hex string), ``iat``;
* token request: ``POST`` form ``grant_type=client_credentials``, ``scope`` (default
  ``system/*.rs``, v2 syntax; ``system/*.read`` for v1 servers), ``client_assertion_type=
  urn:ietf:params:oauth:client-assertion-type:jwt-bearer``, ``client_assertion=<jwt>`` ->
  ``{access_token, token_type: "bearer", expires_in, scope}``.

The access token is cached until ``expires_in`` (less a margin) and fetched again on a 401 (an
expired or revoked token, e.g. mid-export): ``FhirClient`` calls ``refresh``. JWTs are signed with
PyJWT (``cryptography`` keys). Never logged and never in an error: the key, the assertion, the token.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from flit_pipelines.http.clock import SYSTEM_CLOCK, Clock

__all__ = ["ASSERTION_LIFETIME_SECONDS", "ASSERTION_TYPE", "BackendServicesAuth", "BearerAuth", "FhirAuth",
           "algorithm_for", "load_private_key"]

log = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 300  # SMART: "exp ... no more than five minutes in the future"
TOKEN_REFRESH_MARGIN_SECONDS = 30.0  # fetch a new token this long (at most 10 % of its life) before it expires
DEFAULT_SCOPE = "system/*.rs"


class FhirAuth:
    """What ``FhirClient`` needs of an authorisation: the ``Authorization`` header value (None: send
    none) and ``refresh`` after a 401 (False: nothing could change, the 401 is final)."""

    def header(self) -> str | None:
        """``"Bearer <token>"`` or None."""
        return None

    def refresh(self) -> bool:
        """Forget the cached token so the next ``header`` fetches a new one; False when there is
        nothing to refresh (a static token)."""
        return False


class BearerAuth(FhirAuth):
    """A token the server issued directly (``FHIR_TOKEN``); a 401 is final.

    Raises:
        ValueError: empty token.
    """

    def __init__(self, token: str):
        if not token:
            raise ValueError("the bearer token is empty")
        self._token = token

    def header(self) -> str | None:
        """``"Bearer <token>"``."""
        return f"Bearer {self._token}"

    def __repr__(self) -> str:  # never the token
        return "BearerAuth(***)"


def load_private_key(path: str | Path) -> Any:
    """The PEM private key (RSA, or EC on P-384) at ``path``.

    Raises:
        ValueError: unreadable, not PEM, encrypted, or another key type (the message names the
            problem and never the key).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"FHIR private key file cannot be read ({type(exc).__name__})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ValueError("FHIR private key file is not an unencrypted PEM private key") from None
    algorithm_for(key)
    return key


def algorithm_for(key: Any) -> str:
    """``RS384`` for an RSA key, ``ES384`` for an EC P-384 key (the two SMART Backend Services requires).

    Raises:
        ValueError: any other key.
    """
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS384"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP384R1):
        return "ES384"
    raise ValueError("SMART Backend Services needs an RSA key (RS384) or an EC P-384 key (ES384)")


class BackendServicesAuth(FhirAuth):
    """SMART Backend Services client credentials with a signed JWT assertion (module docstring).

    Args:
        client_id: the registered client's id (``FHIR_CLIENT_ID``).
        private_key: a ``cryptography`` private key (``load_private_key``).
        fetch: ``fetch(token_url, form) -> (access_token, expires_in seconds)``: the POST to the
            token endpoint with retries (``FhirClient.token_request``); raises on refusal.
        token_url: the token endpoint, or a callable discovering it (called once, on first use).
        scope: the requested scope (default ``system/*.rs``).
        kid: the key id to put in the JWT header (the registered JWK's ``kid``), optional.
        clock: time source (``now()`` for ``iat``/``exp``, ``monotonic()`` for the cache).

    Thread-safe. ``stats``-free: ``FhirClient`` counts the token requests.

    Raises:
        ValueError: empty client id, or an unsupported key.
    """

    def __init__(self, client_id: str, private_key: Any, fetch: Callable[[str, dict[str, str]], tuple[str, float]],
                 token_url: str | Callable[[], str], *, scope: str = DEFAULT_SCOPE, kid: str | None = None,
                 clock: Clock = SYSTEM_CLOCK):
        if not client_id:
            raise ValueError("client_id is required")
        self.client_id = client_id
        self.algorithm = algorithm_for(private_key)
        self.scope = scope
        self.kid = kid
        self._key = private_key
        self._fetch = fetch
        self._token_url = token_url
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._deadline = 0.0
        self.assertions_signed = 0

    @property
    def token_url(self) -> str:
        """The token endpoint (discovered on first use when not configured)."""
        if callable(self._token_url):
            self._token_url = self._token_url()
        return self._token_url

    def client_assertion(self) -> str:
        """A fresh signed JWT (module docstring): new ``jti``, ``exp`` = now + 300 s."""
        now = int(self._clock.now().timestamp())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": self.token_url,
                  "exp": now + ASSERTION_LIFETIME_SECONDS, "iat": now, "jti": secrets.token_hex(16)}
        headers = {"typ": "JWT", **({"kid": self.kid} if self.kid else {})}
        self.assertions_signed += 1
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=headers)

    def header(self) -> str | None:
        """``"Bearer <token>"``, fetching a token when none is cached or it is about to expire."""
        with self._lock:
            if self._token is None or self._clock.monotonic() >= self._deadline:
                form = {"grant_type": "client_credentials", "scope": self.scope,
                        "client_assertion_type": ASSERTION_TYPE, "client_assertion": self.client_assertion()}
                token, lifetime = self._fetch(self.token_url, form)
                margin = min(TOKEN_REFRESH_MARGIN_SECONDS, lifetime * 0.1)
                self._token, self._deadline = token, self._clock.monotonic() + max(0.0, lifetime - margin)
            return f"Bearer {self._token}"

    def refresh(self) -> bool:
        """Drop the cached token (a 401: expired or revoked); the next ``header`` signs a new assertion."""
        with self._lock:
            self._token = None
        return True

    def __repr__(self) -> str:  # never the key or the token
        return f"BackendServicesAuth(client_id={self.client_id!r}, alg={self.algorithm})"
