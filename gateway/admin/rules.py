"""Rule management: the active ruleset, reload, versions, rollback, shadow mode.

A reload compiles off the event loop and swaps one reference; a broken ruleset, or
one whose inline examples fail, is refused (422, ``file:line: rule-id: message``
errors) and the running one stays. Versions are the engine's history, which SIGHUP
reloads share; a promoted shadow ruleset's dir is what later reloads read. Every
change is an audit log line (who, what, versions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.admin.http import ApiError, audit, fields, read_json
from gateway.admin.keys import CORE, RULES_LOCK
from gateway.engine import Ruleset
from gateway.engine.loader import load_ruleset
from gateway.engine.schema import RuleErrors
from gateway.engine.shadow import Shadow
from gateway.offloop import in_thread
from gateway.state.memory import MemoryCounters

__all__ = ["routes"]


def _summary(rs: Ruleset, active: bool = False) -> dict[str, Any]:
    return {"version": rs.version, "loaded_at": rs.loaded_at, "rules": len(rs.rules),
            "files": list(rs.files), "active": active}


def _refused(e: RuleErrors, active: str) -> ApiError:
    return ApiError(422, "ruleset refused: the running ruleset stays", active=active,
                    errors=[str(err) for err in e.errors])


async def get_rules(request: web.Request) -> web.Response:
    rs = request.app[CORE].engine.ruleset
    return web.json_response({
        **_summary(rs, True), "warn": rs.warn, "block": rs.block,
        "dynamic_lists": sorted(rs.dynamic),
        "rules": [{
            "id": r.id, "description": r.spec.description, "file": r.spec.file,
            "line": r.spec.line, "channels": list(r.spec.channels),
            "directions": list(r.spec.directions), "phase": r.spec.phase,
            "action": r.action, "score": r.score,
        } for r in rs.rules],
    })


async def reload_rules(request: web.Request) -> web.Response:
    core = request.app[CORE]
    async with request.app[RULES_LOCK]:
        active = core.engine.ruleset
        try:
            rs = await in_thread(core.build_ruleset)
            if rs.version != active.version:  # its own examples must pass
                await in_thread(core.check_examples)
        except RuleErrors as e:
            audit(request, "rules.reload", refused=True, version=active.version,
                  errors=len(e.errors))
            raise _refused(e, active.version) from None
        if rs.version == active.version:
            return web.json_response({"version": rs.version, "changed": False})
        core.activate(rs)
        audit(request, "rules.reload", version=rs.version, previous=active.version)
    return web.json_response({"version": rs.version, "previous": active.version,
                              "changed": True, "rules": len(rs.rules)})


async def versions(request: web.Request) -> web.Response:
    engine = request.app[CORE].engine
    out = [_summary(engine.ruleset, True)]
    out += [_summary(rs) for rs in reversed(engine.history)]
    return web.json_response({"versions": out})


async def rollback(request: web.Request) -> web.Response:
    body = await read_json(request)
    fields(body, required=(), optional=("version",))
    core = request.app[CORE]
    engine = core.engine
    async with request.app[RULES_LOCK]:
        if not engine.history:
            raise ApiError(409, "no earlier ruleset to roll back to")
        want = body.get("version")
        target = engine.history[-1] if want is None else next(
            (rs for rs in reversed(engine.history) if rs.version == want), None)
        if target is None:
            raise ApiError(404, f"no earlier ruleset with version {want!r}")
        previous = engine.ruleset
        engine.history.remove(target)
        core.activate(target)
        audit(request, "rules.rollback", version=target.version, previous=previous.version)
    return web.json_response({"version": target.version, "previous": previous.version})


# -- shadow mode ---------------------------------------------------------------------

def _shadow_dir(request: web.Request, body: dict[str, Any]) -> str:
    core = request.app[CORE]
    d = body.get("dir") or core.config.admin.shadow_dir
    if not d or not isinstance(d, str):
        raise ApiError(400, "name the candidate rules dir: {\"dir\": ...} or [admin] shadow_dir")
    if not Path(d).is_dir():
        raise ApiError(400, f"{d}: not a directory")
    return d


async def start_shadow(request: web.Request) -> web.Response:
    body = await read_json(request)
    fields(body, required=(), optional=("dir",))
    core = request.app[CORE]
    d = _shadow_dir(request, body)

    def build() -> Ruleset:  # private counters: the candidate acts on nothing live
        return load_ruleset(d, lists=core.lists, state=MemoryCounters(),
                            plugins=core.engine.plugins, home_region=core.numbering.home_region,
                            missing_symbols=core.config.plugins.missing_symbols)

    async with request.app[RULES_LOCK]:
        try:
            rs = await in_thread(build)
        except RuleErrors as e:
            raise _refused(e, core.engine.ruleset.version) from None
        shadow = Shadow(rs, emergency=core.lists.emergency, numbering=core.numbering, source=d)
        core.engine.shadow = shadow
        audit(request, "rules.shadow.start", shadow=rs.version, dir=d,
              version=core.engine.ruleset.version)
    return web.json_response({"shadow": rs.version, "active": core.engine.ruleset.version,
                              "dir": d, "rules": len(rs.rules)})


def _current(request: web.Request) -> Shadow:
    shadow = request.app[CORE].engine.shadow
    if not isinstance(shadow, Shadow):
        raise ApiError(404, "no shadow ruleset running: POST /v1/rules/shadow first")
    return shadow


async def shadow_report(request: web.Request) -> web.Response:
    report = _current(request).report()
    report["active"] = request.app[CORE].engine.ruleset.version
    return web.json_response(report)


async def stop_shadow(request: web.Request) -> web.Response:
    report = _current(request).report()
    request.app[CORE].engine.shadow = None
    audit(request, "rules.shadow.stop", shadow=report.get("version"))
    return web.json_response({"stopped": True, "report": report})


async def promote_shadow(request: web.Request) -> web.Response:
    """Compile the candidate again against the live counters and make it active."""
    core = request.app[CORE]
    shadow = _current(request)
    async with request.app[RULES_LOCK]:
        try:
            rs = await in_thread(core.candidate, shadow.source)
        except RuleErrors as e:
            raise _refused(e, core.engine.ruleset.version) from None
        previous = core.engine.ruleset
        core.activate(rs)
        core.rules_dir = shadow.source  # what the next reload (or SIGHUP) reads
        core.engine.shadow = None
        audit(request, "rules.promote", version=rs.version, previous=previous.version,
              dir=shadow.source)
    return web.json_response({"version": rs.version, "previous": previous.version,
                              "report": shadow.report()})


routes = [
    web.get("/v1/rules", get_rules),
    web.post("/v1/rules/reload", reload_rules),
    web.get("/v1/rules/versions", versions),
    web.post("/v1/rules/rollback", rollback),
    web.post("/v1/rules/shadow", start_shadow),
    web.get("/v1/rules/shadow", shadow_report),
    web.delete("/v1/rules/shadow", stop_shadow),
    web.post("/v1/rules/shadow/promote", promote_shadow),
]
