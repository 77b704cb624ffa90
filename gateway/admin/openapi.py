"""The OpenAPI 3.1 description served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

__all__ = ["spec"]

_STR = {"type": "string"}
_NUM = {"type": "number"}
_OBJ = {"type": "object"}
_VERDICT = {
    "type": "object",
    "required": ["action", "score", "rules", "reason"],
    "properties": {"action": {"enum": ["ALLOW", "WARN", "BLOCK"]}, "score": _NUM,
                   "rules": {"type": "array", "items": _STR}, "reason": _STR},
}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": _STR}}


def _body(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": props, "required": required,
        "additionalProperties": False}}}}


def _op(summary: str, *, body: dict[str, Any] | None = None, ok: dict[str, Any] | None = None,
        errors: tuple[int, ...] = (), params: list[dict[str, Any]] | None = None,
        public: bool = False, content: str = "application/json") -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "OK", "content": {
        content: {"schema": ok or _OBJ}}}}
    for code in ((*errors, 401) if not public else errors):
        responses[str(code)] = {"description": _REASONS[code], "content": {
            "application/json": {"schema": _ERROR}}}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        op["requestBody"] = body
    if params:
        op["parameters"] = params
    if public:
        op["security"] = []
    return op


_REASONS = {400: "bad JSON, fields or entries (nothing applied)", 401: "missing or wrong token",
            404: "no such resource", 409: "conflict with the current state",
            413: "body too large", 422: "ruleset refused: file:line: rule-id errors",
            502: "the SMSC refused or did not answer", 503: "not possible now: nothing done"}


def _path(name: str, desc: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": desc, "schema": _STR}


def _query(name: str, desc: str, schema: dict[str, Any] = _STR) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": desc,
            "schema": schema}


def spec() -> dict[str, Any]:
    event = {"src": _STR, "dst": _STR, "direction": {"enum": ["in", "out"]}, "route": _STR,
             "dry_run": {"type": "boolean", "description": "judge without counting: "
                         "counters, statistics, audit log and quarantine stay as they are"}}
    dry = [_query("dry_run", "1: judge without counting (as dry_run in the body)")]
    return {
        "openapi": "3.1.0",
        "info": {"title": "spamgw admin API", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": _op("Liveness", public=True)},
            "/metrics": {"get": _op("Prometheus metrics (spamgw_*)", content="text/plain")},
            "/v1/check/sms": {"post": _op("Judge one SMS", ok=_VERDICT, errors=(400, 413),
                                          body=_body({**event, "text": _STR}, ["src", "dst"]),
                                          params=dry)},
            "/v1/check/call": {"post": _op("Judge one call", ok=_VERDICT, errors=(400, 413),
                                           params=dry,
                                           body=_body({**event, "phase": _STR,
                                                       "duration": _NUM, "billsec": _NUM,
                                                       "dialstatus": _STR}, ["src", "dst"]))},
            "/v1/rules": {"get": _op("Active ruleset and its rules")},
            "/v1/rules/reload": {"post": _op("Compile [rules] dir and swap it in",
                                             errors=(422,))},
            "/v1/rules/versions": {"get": _op("Active and earlier rulesets")},
            "/v1/rules/rollback": {"post": _op("Back to an earlier ruleset", errors=(404, 409),
                                               body=_body({"version": _STR}, []))},
            "/v1/rules/shadow": {
                "post": _op("Run a candidate rules dir in shadow", errors=(400, 422),
                            body=_body({"dir": _STR}, [])),
                "get": _op("Shadow report: disagreements with examples", errors=(404,)),
                "delete": _op("Stop the shadow", errors=(404,)),
            },
            "/v1/rules/shadow/promote": {"post": _op("Make the shadow ruleset active",
                                                     errors=(404, 422))},
            "/v1/lists": {"get": _op("Lists with sizes and journal state")},
            "/v1/lists/reload": {"post": _op(
                "Reload changed list files and the rules with them, as one version "
                "(422: file:line errors, the running lists and rules stay)", errors=(422,))},
            "/v1/lists/{name}": {"post": _op(
                "Add/remove entries (journaled, fsynced, then live)", errors=(400, 404, 409),
                params=[_path("name", "list name")],
                body=_body({"add": {"type": "array", "items": _STR},
                            "remove": {"type": "array", "items": _STR},
                            "ttl": _NUM}, []))},
            "/v1/lists/{name}/{entry}": {"get": _op(
                "Is it listed, by which entry (exact or prefix)", errors=(404,),
                params=[_path("name", "list name"), _path("entry", "number or sender")])},
            "/v1/lists/{name}/import": {"post": {
                **_op("Bulk import: text body, one entry a line (streamed)",
                      errors=(400, 404, 409),
                      params=[_path("name", "list name"),
                              _query("mode", "add or remove"), _query("ttl", "seconds", _NUM)]),
                "requestBody": {"content": {"text/plain": {"schema": _STR}}}}},
            "/v1/lists/{name}/compact": {"post": _op("Fold the journal into the list files",
                                                     errors=(404, 409),
                                                     params=[_path("name", "list name")])},
            "/v1/reports": {
                "post": _op("Report spam (GSMA SRS style)", errors=(400,),
                            body=_body({"reporter": _STR, "reported": _STR, "text": _STR},
                                       ["reporter", "reported"])),
                "get": _op("Report counts and listed senders (no reporter identities)"),
            },
            "/v1/stats": {"get": _op("Counts over a sliding window, series, lifetime",
                                     errors=(400,),
                                     params=[_query("window", "seconds, 1..3600", _NUM)])},
            "/v1/stats/stream": {"get": _op("Server-sent events: stats every second",
                                            content="text/event-stream",
                                            params=[_query("window", "seconds", _NUM)])},
            "/v1/quarantine": {"get": _op("Search blocked SMS", errors=(400, 404), params=[
                _query("q", "text contains"), _query("src", "source"), _query("dst", "dest"),
                _query("rule", "rule id"), _query("since", "epoch seconds", _NUM),
                _query("limit", "max rows", _NUM), _query("before_id", "page", _NUM)])},
            "/v1/quarantine/{id}": {"get": _op("One quarantined SMS", errors=(400, 404),
                                               params=[_path("id", "row id")])},
            "/v1/quarantine/{id}/release": {"post": _op(
                "False positive: send the held message to the SMSC (a bound session of "
                "its system_id); 502: the SMSC refused it, 503: no such session bound",
                errors=(400, 404, 409, 502, 503), params=[_path("id", "row id")],
                body=_body({}, []))},
            "/v1/quarantine/{id}/release-allowlist": {"post": _op(
                "False positive: put the sender on an allowlist", errors=(400, 404, 409, 422),
                params=[_path("id", "row id")], body=_body({"list": _STR}, []))},
        },
    }
