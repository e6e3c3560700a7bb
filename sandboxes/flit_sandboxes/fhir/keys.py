"""Key material for the SMART Backend Services client of tests and the demo (sandbox-side helpers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


def public_jwks(private_key: Any, kid: str = "flit-1") -> dict[str, Any]:
    """A JWKS (``{"keys": [jwk]}``) holding the public half of an RSA or EC private key (``alg``
    RS384/ES384), what a client registers with the server."""
    public = private_key.public_key()
    if isinstance(private_key, rsa.RSAPrivateKey):
        jwk, alg = RSAAlgorithm.to_jwk(public, as_dict=True), "RS384"
    else:
        jwk, alg = ECAlgorithm.to_jwk(public, as_dict=True), "ES384"
    return {"keys": [{**jwk, "kid": kid, "alg": alg, "use": "sig"}]}


def new_client_key(folder: Path, *, kind: str = "rsa") -> tuple[Path, dict[str, Any]]:
    """Write a new private key (``rsa`` 2048-bit or ``ec`` P-384) as PEM to ``folder/fhir_client_key.pem``
    (mode 0600); returns (its path, the public JWKS to register)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "rsa" \
        else ec.generate_private_key(ec.SECP384R1())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fhir_client_key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path, public_jwks(key)


def write_jwks(path: Path, jwks: dict[str, Any]) -> Path:
    """Write a JWKS for ``flit sandbox serve fhir --client-id ID --jwks FILE``."""
    path.write_text(json.dumps(jwks))
    return path
