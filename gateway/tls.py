"""TLS for the listeners and the upstream leg: ``ssl`` contexts from configured files.

A server context needs a certificate chain and its key (PEM); a client context
verifies the peer against a CA file, or the system's CAs when none is given, and
checks the host name. A file that cannot be read or parsed is a ``ConfigError``
naming the key, at start-up.
"""

from __future__ import annotations

import ssl

from gateway.config import ConfigError

__all__ = ["client_context", "server_context"]


def server_context(cert: str, key: str, path: str) -> ssl.SSLContext | None:
    """The context of a TLS listener (``path``: where the keys sit, for errors);
    ``None`` when no certificate is configured (plain TCP)."""
    if not cert and not key:
        return None
    if not cert or not key:
        raise ConfigError(f"{path}.tls_cert and {path}.tls_key: give both, or neither")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"{path}.tls_cert: {cert} / {key}: cannot load: "
                          f"{getattr(e, 'strerror', None) or e}") from None
    return ctx


def client_context(ca: str, path: str) -> ssl.SSLContext:
    """The context of a TLS client leg: the peer verified against ``ca`` (a PEM file)
    or, when empty, the system's CAs; host names checked."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca:
        try:
            ctx.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(f"{path}.tls_ca: {ca}: cannot load: "
                              f"{getattr(e, 'strerror', None) or e}") from None
    return ctx
