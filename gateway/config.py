"""Typed, frozen configuration, loaded from TOML and validated at load time.

Every section is optional and has a working default. An unknown or mistyped key is
an error naming its path (``smpp.upstream.address: expected str, got int``).
Relative paths in a config file (``rules.dir``, ``lists.dir``, ``plugins.dir``,
``quarantine.path``, ``log.audit``, ``admin.shadow_dir``, ``admin.token_file``)
resolve against the file's directory, never the working directory; defaults
without a file stay relative to the working directory. What ``spamgw run`` checks
before it starts is ``gateway.preflight``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["KNOWN_DEFAULT_TOKENS", "ROLES", "TRUNK_CLASSES", "Config", "ConfigError",
           "LookupConfig", "SpendConfig", "TrunkConfig", "bearer_tokens", "load_config",
           "parse_config"]


class ConfigError(ValueError):
    """A configuration mistake; the message starts with the key's path."""


def _hostport(value: str, path: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{path}: expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    home_country: str = "GB"
    #: "open": an engine error or timeout allows traffic (counted, logged loudly);
    #: "closed": it blocks (protected numbers are still never blocked).
    fail_mode: str = "open"
    #: numbers never blocked whatever the rules say, on top of the emergency numbers
    protected_numbers: tuple[str, ...] = ()
    #: decision deadline for a call screening, milliseconds
    call_deadline_ms: int = 50
    #: worker processes sharing the SMPP and FastAGI ports (``spamgw run``): a count,
    #: or "auto" for one per core; more than one needs ``[state] backend = "redis"``
    workers: int | str = 1


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    #: the SMSC, ``"host:port"``, or a pool of them (an array of ``"host:port"``): a new
    #: bind goes to the next healthy one in turn (``gateway.smpp.upstreams``)
    address: str | tuple[str, ...] = "127.0.0.1:2776"
    connect_timeout: float = 5.0
    #: command_status for outstanding requests when the upstream goes away.
    #: 0x58 ESME_RTHROTTLED: Kannel resends it; 0x08 would be final for Kannel.
    temporary_error_status: int = 0x58
    response_timeout: float = 30.0
    #: SMPP over TLS to the SMSC (as SMSCs offer it, on a port of its own); the SMSC
    #: is verified against ``tls_ca`` (a PEM file; empty: the system's CAs) and the
    #: host name of ``address``
    tls: bool = False
    tls_ca: str = ""
    #: a pool member whose connection failed gets no new binds until a TCP connect to
    #: it, tried this often (seconds), succeeds
    health_interval: float = 5.0

    @property
    def addresses(self) -> tuple[str, ...]:
        """``address`` as a pool: one SMSC is a pool of one."""
        return (self.address,) if isinstance(self.address, str) else self.address


@dataclass(frozen=True, slots=True)
class SmppClientConfig:
    system_id: str = ""
    max_binds: int = 0  # 0: no limit
    max_tps: float = 0.0  # 0: no cap; over it answers ESME_RTHROTTLED
    allowed_ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SmppConfig:
    enabled: bool = True
    listen: str = "0.0.0.0:2775"
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    clients: tuple[SmppClientConfig, ...] = ()
    window: int = 100
    concat_timeout: float = 2.0
    enquire_link_interval: float = 30.0
    #: a deliver_sm/data_sm (MO or receipt) or unbind the ESME leaves unanswered this
    #: long is answered to the SMSC by the proxy: upstream.temporary_error_status (the
    #: SMSC retries it), or unbind_resp and the pair closed
    esme_response_timeout: float = 30.0
    #: on shutdown, how long to wait for the SMSC to answer what is in flight
    drain_timeout: float = 10.0
    #: a connection not bound this many seconds after it opened is closed (a silent
    #: socket, a bind sent a byte at a time)
    bind_timeout: float = 10.0
    #: a bound ESME silent this long gets an enquire_link; silent for
    #: ``esme_response_timeout`` more, it is closed (and its upstream unbound)
    idle_timeout: float = 60.0
    #: open connections on the listener, in all (0: no limit); over it a new
    #: connection is closed at once (logged at most every 10 s)
    max_connections: int = 1000
    #: open connections from one peer address (0: no limit)
    max_connections_per_ip: int = 100
    #: TLS on the listener: certificate chain and key (PEM); both empty: plain TCP
    tls_cert: str = ""
    tls_key: str = ""


#: what a trunk (an Asterisk endpoint the call arrives on or leaves by) is, for the
#: ``trunk_class`` rule predicate: carrier interconnects (``national``,
#: ``international``, ``roaming_partner``: a partner network that hands over calls of
#: our own roaming subscribers, so home caller IDs are expected on it) and customer
#: trunks (``pbx``, ``call_centre``: busy lines judged against their own thresholds)
TRUNK_CLASSES = ("national", "international", "roaming_partner", "pbx", "call_centre",
                 "subscribers", "unknown")


@dataclass(frozen=True, slots=True)
class TrunkConfig:
    """``[[agi.trunks]]``: ``name`` is the route (the trunk argument of the AGI path,
    or the endpoint part of the channel name); ``class`` one of ``TRUNK_CLASSES``."""

    name: str = ""
    trunk_class: str = "unknown"
    #: spend cap of every call over this trunk together per day (0: none), in the
    #: rate table's currency; a hacked PBX spends its trunk's money, not one CLI's
    daily_cap: float = 0.0


@dataclass(frozen=True, slots=True)
class SpendConfig:
    """``[agi.spend]``: outbound spend caps, reserved when a call is screened and
    settled with the real billsec at ``/ended``."""

    enabled: bool = True
    #: per calling subscriber (caller ID) per UTC day, in the rate table's currency
    daily_cap: float = 50.0
    #: destinations cheaper than this per minute are never capped (national calls
    #: still go when fraud has used up the day's budget); their cost still counts
    cap_from_per_minute: float = 0.10
    #: a call the remaining budget allows less than this (seconds) is blocked
    min_call_seconds: int = 60
    #: longest call a screening ever reserves for (seconds): SPAMGW_MAXDURATION is
    #: at most this for priced destinations
    max_call_seconds: int = 7200
    #: destinations priced at or above this per minute count as expensive: their
    #: concurrent calls per subscriber are limited
    expensive_per_minute: float = 0.5
    #: expensive calls one subscriber may have up at once (0: no limit)
    max_concurrent_expensive: int = 2


@dataclass(frozen=True, slots=True)
class LookupConfig:
    """``[agi.lookup]``: a number status lookup (HLR, roaming, portability) asked
    during call screening (``gateway.lookup``); rules read its answer with
    ``src_status`` / ``dst_status``."""

    #: "" (off), "file", "redis", or the name of a ``spamgw.lookups`` entry point
    backend: str = ""
    #: file: ``NUMBER STATUS`` a line, reread when it changes
    path: str = ""
    reload_interval: float = 5.0
    #: redis: a hash, field = E.164 number, value = status (empty url: [state] redis_url)
    redis_url: str = ""
    redis_key: str = "spamgw:number_status"
    #: how long a screening waits for an answer (at most 60% of the call deadline);
    #: a later answer counts as "unknown" for that call and is cached for the next
    deadline_ms: float = 20.0
    cache_ttl: float = 300.0
    cache_size: int = 100_000
    #: which numbers are looked up: the caller of inbound calls, the dialled number of
    #: outbound calls; only home-country numbers unless ``home_only = false``
    inbound: bool = True
    outbound: bool = False
    home_only: bool = True
    #: options for a plugin backend
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AgiConfig:
    enabled: bool = True
    #: loopback by default: FastAGI has no authentication, so an Asterisk on another
    #: host needs an explicit address here and ``allowed_peers``
    listen: str = "127.0.0.1:4573"
    #: peer networks allowed to connect (``["10.1.2.0/24", "::1"]``); empty: any
    allowed_peers: tuple[str, ...] = ()
    #: open connections at most (0: no limit); over it a new one is closed at once
    max_connections: int = 1000
    #: open connections from one peer address (0, the default: no limit; the calls
    #: of one Asterisk all come from one address)
    max_connections_per_ip: int = 0
    #: trunk classes by name (``[[agi.trunks]] name = "intl-gw", class = "international"``)
    trunks: tuple[TrunkConfig, ...] = ()
    #: class of a trunk not in ``trunks`` (and of calls with no trunk)
    default_trunk_class: str = "unknown"
    spend: SpendConfig = field(default_factory=SpendConfig)
    lookup: LookupConfig = field(default_factory=LookupConfig)


#: what a role may do: ``read`` GET (stats, metrics, lists, rules, quarantine);
#: ``operator`` also checks, list edits and imports, reports, quarantine release;
#: ``admin`` everything (rule reloads, rollbacks, shadow mode)
ROLES = ("read", "operator", "admin")


@dataclass(frozen=True, slots=True)
class AdminTokenConfig:
    """``[[admin.tokens]]``: one bearer token, its name (the audit log's ``who``) and
    role; the token itself given as ``token``, ``token_file`` or ``token_env`` (the
    name of an environment variable), exactly one of them."""

    name: str = ""
    role: str = "read"
    token: str = ""
    token_file: str = ""
    token_env: str = ""


@dataclass(frozen=True, slots=True)
class AdminConfig:
    enabled: bool = True
    listen: str = "127.0.0.1:8080"
    #: ``Authorization: Bearer <token>``; empty or a known default (``change-me``) and
    #: the gateway refuses to start with the admin API enabled
    token: str = ""
    #: a file holding the token (read at load; its surrounding whitespace dropped)
    token_file: str = ""
    #: more tokens, each with a name and a role (``[[admin.tokens]]``); ``token``
    #: above is the one named ``admin`` with the ``admin`` role
    tokens: tuple[AdminTokenConfig, ...] = ()
    #: largest JSON request body, bytes (bulk list imports stream and have no limit)
    max_body: int = 1 << 20
    #: open connections at most (0: no limit); over it a new one is closed at once
    max_connections: int = 256
    #: HTTPS: certificate chain and key (PEM); both empty: plain HTTP
    tls_cert: str = ""
    tls_key: str = ""
    #: default candidate rules dir for shadow mode (a request may name another)
    shadow_dir: str = ""


@dataclass(frozen=True, slots=True)
class RulesConfig:
    dir: str = "rules"


@dataclass(frozen=True, slots=True)
class ListsConfig:
    dir: str = "rules/lists"
    #: compact a list's change journal into its files after this many records
    compact_after: int = 10000


@dataclass(frozen=True, slots=True)
class ReportsConfig:
    """Spam reports (GSMA SRS style): SMS to the short code, or ``POST /v1/reports``."""

    shortcode: str = "7726"
    #: distinct reporters within ``window`` seconds that put a sender on ``listed_list``
    threshold: int = 3
    window: float = 7 * 86400.0
    #: how long a listed sender stays listed, seconds
    list_ttl: float = 7 * 86400.0
    #: expiring list of reported senders (a rule raises their score)
    reported_list: str = "srs_reported"
    #: expiring list of senders reported by ``threshold`` distinct reporters (a rule blocks)
    listed_list: str = "srs_listed"
    #: HMAC key for reporter identities (empty: the admin token)
    salt: str = ""


@dataclass(frozen=True, slots=True)
class QuarantineConfig:
    """Blocked SMS kept for inspection (SQLite)."""

    enabled: bool = True
    path: str = "spamgw-quarantine.sqlite3"
    max_rows: int = 100000
    retention_days: float = 30.0


@dataclass(frozen=True, slots=True)
class StateConfig:
    backend: str = "memory"
    #: ``redis://host:port/db`` (or ``rediss://``, ``unix://``) for one server,
    #: ``redis+sentinel://host:26379,host:26379/service[/db]`` for a primary that
    #: Sentinels fail over, ``redis+cluster://host:port,host:port`` for a Redis Cluster
    #: (``gateway.redisconn``)
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: namespace of every key the redis backend writes
    redis_prefix: str = "spamgw:"
    #: seconds between two syncs of the local view with Redis
    sync_interval: float = 0.1
    #: how many shards the counters' keys are spread over (0: one, or 8 on a Redis
    #: Cluster); every process sharing a prefix must use the same number
    redis_shards: int = 0


@dataclass(frozen=True, slots=True)
class PluginsConfig:
    dir: str = "plugins"
    #: plugin names to run; empty means every plugin found
    enabled: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    #: per-plugin options, ``[plugins.options.url]``
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: a rule naming a symbol no loaded plugin provides: "error" stops the load naming
    #: it (file:line: rule-id); "disable" runs the rule without it (a rule left with
    #: no symbol is disabled), each logged once
    missing_symbols: str = "error"


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: str = "info"
    format: str = "json"  # json | console
    audit: str = ""  # path of the audit log (JSON lines); empty: stderr with the rest


@dataclass(frozen=True, slots=True)
class Config:
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    smpp: SmppConfig = field(default_factory=SmppConfig)
    agi: AgiConfig = field(default_factory=AgiConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    lists: ListsConfig = field(default_factory=ListsConfig)
    state: StateConfig = field(default_factory=StateConfig)
    plugins: PluginsConfig = field(default_factory=PluginsConfig)
    log: LogConfig = field(default_factory=LogConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    quarantine: QuarantineConfig = field(default_factory=QuarantineConfig)
    #: where it was loaded from (None: defaults)
    source: str | None = None


_CHOICES: dict[str, tuple[str, ...]] = {
    "gateway.fail_mode": ("open", "closed"),
    "state.backend": ("memory", "redis"),
    "log.format": ("json", "console"),
    "log.level": ("debug", "info", "warning", "error"),
    "agi.default_trunk_class": TRUNK_CLASSES,
    "plugins.missing_symbols": ("error", "disable"),
}
#: the same for a field wherever its table sits (in an array of tables, whose paths
#: carry an index: ``agi.trunks[0].class``)
_FIELD_CHOICES: dict[tuple[type, str], tuple[str, ...]] = {
    (TrunkConfig, "trunk_class"): TRUNK_CLASSES,
    (AdminTokenConfig, "role"): ROLES,
}
#: TOML keys spelled differently from their field (``class`` is a Python keyword)
_ALIASES: dict[str, str] = {"class": "trunk_class"}
_FIELD_ALIASED = frozenset(_ALIASES.values())
_HOSTPORTS = ("smpp.listen", "smpp.upstream.address", "agi.listen", "admin.listen")
#: of those, the ones that also take an array of HOST:PORT (a pool)
_HOSTPORT_POOLS = ("smpp.upstream.address",)
#: tokens from examples and habit: a gateway refuses to start with one of them
KNOWN_DEFAULT_TOKENS = frozenset({"change-me", "changeme", "change_me", "secret", "token",
                                  "admin", "password", "test", "default"})
#: (section, key) of the paths a config file's relative values resolve against
_PATHS = (("rules", "dir"), ("lists", "dir"), ("plugins", "dir"), ("quarantine", "path"),
          ("log", "audit"), ("admin", "shadow_dir"), ("admin", "token_file"),
          ("admin", "tls_cert"), ("admin", "tls_key"), ("smpp", "tls_cert"),
          ("smpp", "tls_key"), ("smpp.upstream", "tls_ca"), ("agi.lookup", "path"))


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table, got {type(value).__name__}")
        return _build(tp, value, path)
    if origin is tuple:
        (item_tp, _ellipsis) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected an array, got {type(value).__name__}")
        return tuple(_convert(item_tp, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table, got {type(value).__name__}")
        return dict(value)
    if origin in (types.UnionType, typing.Union):
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    return value


def _pool(value: Any, path: str) -> str | tuple[str, ...]:
    """A HOST:PORT string as is, or an array of distinct ones as a tuple."""
    if not isinstance(value, list):
        return str(_convert(str, value, path))
    if not value:
        raise ConfigError(f"{path}: an empty array: give at least one HOST:PORT")
    seen: set[str] = set()
    for i, item in enumerate(value):
        _hostport(_convert(str, item, f"{path}[{i}]"), f"{path}[{i}]")
        if item in seen:
            raise ConfigError(f"{path}[{i}]: {item!r} is listed twice")
        seen.add(item)
    return tuple(value)


def _build(cls: Any, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if key in _FIELD_ALIASED:
            raise ConfigError(f"{path}: unknown key")
        key = _ALIASES.get(key, key)
        if key not in names:
            raise ConfigError(f"{path}: unknown key")
        converted = (_pool(value, path) if path in _HOSTPORT_POOLS
                     else _convert(hints[key], value, path))
        choices = _CHOICES.get(path) or _FIELD_CHOICES.get((cls, key))
        if choices is not None and converted not in choices:
            raise ConfigError(f"{path}: expected one of {', '.join(choices)}, got {value!r}")
        if path in _HOSTPORTS and isinstance(converted, str):
            _hostport(converted, path)
        kwargs[key] = converted
    return cls(**kwargs)


def parse_config(data: dict[str, Any], source: str | None = None) -> Config:
    cfg = _build(Config, data, "")
    seen: set[str] = set()
    for i, trunk in enumerate(cfg.agi.trunks):
        if not trunk.name:
            raise ConfigError(f"agi.trunks[{i}].name: every trunk needs a name")
        if trunk.name in seen:
            raise ConfigError(f"agi.trunks[{i}].name: trunk {trunk.name!r} is listed twice")
        seen.add(trunk.name)
    for i, net in enumerate(cfg.agi.allowed_peers):
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise ConfigError(f"agi.allowed_peers[{i}]: not an address or network: "
                              f"{net!r}") from None
    from gateway.supervisor import worker_count

    worker_count(cfg.gateway.workers)  # a ConfigError naming gateway.workers
    if cfg.smpp.upstream.health_interval <= 0:
        raise ConfigError("smpp.upstream.health_interval: must be positive")
    spend = cfg.agi.spend
    for key in ("daily_cap", "cap_from_per_minute", "min_call_seconds", "max_call_seconds",
                "expensive_per_minute", "max_concurrent_expensive"):
        if getattr(spend, key) < 0:
            raise ConfigError(f"agi.spend.{key}: must not be negative")
    from gateway.redisconn import parse as parse_redis_url

    for key, url in (("state.redis_url", cfg.state.redis_url),
                     ("agi.lookup.redis_url", cfg.agi.lookup.redis_url)):
        if url or (key == "state.redis_url" and cfg.state.backend == "redis"):
            try:
                parse_redis_url(url)
            except ValueError as e:
                raise ConfigError(f"{key}: {e}") from None
    if not 0 <= cfg.state.redis_shards <= 1024:
        raise ConfigError("state.redis_shards: expected 0 (automatic) to 1024, got "
                          f"{cfg.state.redis_shards}")
    if "{" in cfg.state.redis_prefix or "}" in cfg.state.redis_prefix:
        raise ConfigError("state.redis_prefix: no braces (a Redis Cluster reads them as "
                          "a hash tag; the gateway adds its own)")
    lookup = cfg.agi.lookup
    for key in ("deadline_ms", "cache_ttl", "cache_size", "reload_interval"):
        if getattr(lookup, key) <= 0:
            raise ConfigError(f"agi.lookup.{key}: must be positive")
    if lookup.backend == "file" and not lookup.path:
        raise ConfigError("agi.lookup.path: the file backend needs a path")
    import phonenumbers

    if not phonenumbers.country_code_for_region(cfg.gateway.home_country.upper()):
        raise ConfigError(f"gateway.home_country: unknown country {cfg.gateway.home_country!r}")
    return dataclasses.replace(cfg, source=source)


def load_config(path: str | Path | None) -> Config:
    """Load a TOML config file; ``None`` gives the defaults. Relative paths resolve
    against the file's directory; ``admin.token_file`` is read."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{p}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: {e}") from e
    try:
        base = p.resolve().parent
        return _read_token(_resolve(parse_config(data, str(p)), base), base)
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from e


def _resolve(cfg: Config, base: Path) -> Config:
    for section, key in _PATHS:
        *outer, name = section.split(".")
        parents = [cfg]
        for part in (*outer, name):
            parents.append(getattr(parents[-1], part))
        value = getattr(parents[-1], key)
        if not value or Path(value).is_absolute():
            continue
        new: Any = dataclasses.replace(parents[-1], **{key: os.path.normpath(base / value)})
        for parent, part in zip(reversed(parents[:-1]), reversed((*outer, name)),
                                strict=True):
            new = dataclasses.replace(parent, **{part: new})
        cfg = new
    return cfg


def _read_file(path: str, key: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{key}: {path}: {getattr(e, 'strerror', None) or e}") from None


def _read_token(cfg: Config, base: Path | None = None) -> Config:
    """``admin.token_file`` read into ``admin.token``, and each ``[[admin.tokens]]``
    token from its file or environment variable."""
    admin = cfg.admin
    if admin.token_file:
        if admin.token:
            raise ConfigError("admin.token_file: give token or token_file, not both")
        admin = dataclasses.replace(admin, token=_read_file(admin.token_file,
                                                            "admin.token_file"))
    tokens = []
    for i, t in enumerate(admin.tokens):
        path = f"admin.tokens[{i}]"
        given = [k for k in ("token", "token_file", "token_env") if getattr(t, k)]
        if len(given) > 1:
            raise ConfigError(f"{path}: give one of token, token_file, token_env")
        if t.token_file:
            file = t.token_file
            if base is not None and not Path(file).is_absolute():
                file = os.path.normpath(base / file)
            t = dataclasses.replace(t, token=_read_file(file, f"{path}.token_file"))
        elif t.token_env:
            t = dataclasses.replace(t, token=os.environ.get(t.token_env, "").strip())
        tokens.append(t)
    return dataclasses.replace(cfg, admin=dataclasses.replace(admin, tokens=tuple(tokens)))


def bearer_tokens(admin: AdminConfig) -> dict[str, tuple[str, str]]:
    """Every admin token: token -> (name, role)."""
    out = {t.token: (t.name, t.role) for t in admin.tokens if t.token}
    if admin.token:
        out[admin.token] = ("admin", "admin")
    return out


def hostport(value: str) -> tuple[str, int]:
    """``"0.0.0.0:2775"`` -> ``("0.0.0.0", 2775)``."""
    return _hostport(value, "address")
