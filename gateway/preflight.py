"""What ``spamgw run`` refuses to start with, each named by its config key: a rules,
lists or plugins directory that does not exist, TLS files that do not load, and with
the admin API on, an empty, reused or known default token."""

from __future__ import annotations

from pathlib import Path

from gateway.config import KNOWN_DEFAULT_TOKENS, Config, ConfigError
from gateway.tls import client_context, server_context

__all__ = ["preflight"]


def preflight(cfg: Config) -> None:
    """What ``spamgw run`` refuses to start with, each named by its key: a rules,
    lists or plugins dir that does not exist (a gateway started from elsewhere would
    run without its content plugins and say nothing), and with the admin API on, an
    empty or known default token."""
    for section, key in (("rules", "dir"), ("lists", "dir"), ("plugins", "dir")):
        value = getattr(getattr(cfg, section), key)
        if not Path(value).is_dir():
            where = f" (from {cfg.source})" if cfg.source else ""
            raise ConfigError(f"{section}.{key}: {Path(value).absolute()}: no such "
                              f"directory{where}")
    if cfg.smpp.enabled:
        server_context(cfg.smpp.tls_cert, cfg.smpp.tls_key, "smpp")
        if cfg.smpp.upstream.tls:
            client_context(cfg.smpp.upstream.tls_ca, "smpp.upstream")
    if cfg.admin.enabled:
        admin = cfg.admin
        server_context(admin.tls_cert, admin.tls_key, "admin")
        token = admin.token
        if not token and not admin.tokens:
            raise ConfigError("admin.token: empty: set [admin] token or token_file, or "
                              "[[admin.tokens]] (or [admin] enabled = false)")
        if token and token.lower() in KNOWN_DEFAULT_TOKENS:
            raise ConfigError(f"admin.token: {token!r} is a known default: set a token "
                              "of your own")
        seen: dict[str, str] = {token: "admin.token"} if token else {}
        names: set[str] = {"admin"} if token else set()
        for i, t in enumerate(admin.tokens):
            path = f"admin.tokens[{i}]"
            if not t.name:
                raise ConfigError(f"{path}.name: every token needs a name")
            if t.name in names:
                raise ConfigError(f"{path}.name: {t.name!r} is used twice")
            names.add(t.name)
            if not t.token:
                src = (f"environment variable {t.token_env} is empty or unset" if t.token_env
                       else "empty")
                raise ConfigError(f"{path}: token {t.name!r}: {src}")
            if t.token.lower() in KNOWN_DEFAULT_TOKENS:
                raise ConfigError(f"{path}: token {t.name!r} is a known default")
            if t.token in seen:
                raise ConfigError(f"{path}: token {t.name!r} is the same as {seen[t.token]}")
            seen[t.token] = path
