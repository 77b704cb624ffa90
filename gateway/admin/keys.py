"""Typed application keys: everything the admin app's handlers share."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.app import Core
    from gateway.quarantine import Quarantine
    from gateway.reports import Reports

__all__ = ["CORE", "LIST_LOCK", "QUARANTINE", "REPORTS", "RULES_LOCK"]

CORE: web.AppKey[Core] = web.AppKey("core")
#: serialises list changes: journal order is apply order (the core's ``list_lock``)
LIST_LOCK = web.AppKey("list_lock", asyncio.Lock)
#: serialises rule reloads, rollbacks and shadow changes
RULES_LOCK = web.AppKey("rules_lock", asyncio.Lock)
REPORTS: web.AppKey[Reports] = web.AppKey("reports")
#: None when ``[quarantine] enabled = false``
QUARANTINE: web.AppKey[Quarantine | None] = web.AppKey("quarantine")
