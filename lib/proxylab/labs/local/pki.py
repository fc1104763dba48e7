"""The lab's certificate authority and the one certificate every front presents.

Real TLS matters: clients verify the names they asked for, so a wrong
`AWS_ENDPOINT_URL_S3` or a request that reached the wrong front fails the way it
would on AWS. The CA file is handed to lab processes through `SSL_CERT_FILE` /
`AWS_CA_BUNDLE` / `NODE_EXTRA_CA_CERTS` (shown apart from the scenario's variables in reports).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class LabPKI:
    ca_file: Path
    cert_file: Path
    key_file: Path


def issue(directory: Path, names: list[str]) -> LabPKI:
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="proxylab", organization_unit_name="lab CA")
    leaf = ca.issue_cert(*names, common_name=names[0])
    pki = LabPKI(directory / "ca.pem", directory / "fronts.pem", directory / "fronts.key")
    ca.cert_pem.write_to_path(str(pki.ca_file))
    # The CA key stays in the lab's state: the internet stand-in signs a certificate for
    # each name a scenario gives it (:func:`leaf_for`), after `up`.
    ca.private_key_pem.write_to_path(str(directory / "ca.key"))
    (directory / "ca.key").chmod(0o600)
    leaf.cert_chain_pems[0].write_to_path(str(pki.cert_file))
    for extra in leaf.cert_chain_pems[1:]:
        extra.write_to_path(str(pki.cert_file), append=True)
    leaf.private_key_pem.write_to_path(str(pki.key_file))
    pki.key_file.chmod(0o600)
    return pki


def plumbing_env(ca_file: Path) -> dict[str, str]:
    """What every lab process needs to trust the lab CA, for each client's variable.
    ``NODE_EXTRA_CA_CERTS``: Node (fetch, https, the AWS SDK v3) ignores
    ``SSL_CERT_FILE`` and trusts only its bundled roots plus this file."""
    ca = str(ca_file)
    return {
        "SSL_CERT_FILE": ca,
        "AWS_CA_BUNDLE": ca,
        "REQUESTS_CA_BUNDLE": ca,
        "CURL_CA_BUNDLE": ca,
        "NODE_EXTRA_CA_CERTS": ca,
    }


def leaf_for(directory: Path, name: str, cache: dict[str, ssl.SSLContext]) -> ssl.SSLContext:
    """A server context with a certificate for ``name`` signed by the lab CA in
    ``directory`` (made once per name, ~1 ms: an ECDSA key)."""
    if name not in cache:
        ca = trustme.CA.from_pem((directory / "ca.pem").read_bytes(),
                                 (directory / "ca.key").read_bytes())
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(name).configure_cert(ctx)
        cache[name] = ctx
    return cache[name]
