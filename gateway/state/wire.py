"""What the redis backend writes: key names, key encoding, and the two sync scripts.

Layout under the prefix (``spamgw:`` by default):

- ``s:{name}:{window}:{bucket}``: hash, field = encoded key, value = the cluster sum of
  that fixed window (``bucket = floor(ts / window)``); expires 2 windows after its
  last write.
- ``d:{name}:{window}:{key}``: sorted set, member = encoded member, score = last seen
  (event time); trimmed to the window and to ``max_members`` newest on every sync.
- ``f:{list}``: sorted set of a flag list, member = encoded key, score = expiry.
- ``flists``: set of flag list names; ``flog``: stream of flag changes (``n`` list,
  ``k`` key, ``e`` expiry or empty for unflag, ``o`` origin), so other processes
  follow changes incrementally; ``epoch``: a random id, gone when Redis lost its data.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

__all__ = ["DISTINCT_SYNC", "SUM_SYNC", "decode_key", "encode_key"]


def encode_key(k: Hashable) -> str:
    """A stable text form: ints as digits, everything else as JSON (tuples as arrays);
    what JSON cannot carry falls back to ``~repr`` (kept apart, never decoded back)."""
    if type(k) is int:
        return str(k)
    try:
        return json.dumps(k, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return "~" + repr(k)


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


def decode_key(s: str) -> Hashable:
    if s.startswith("~"):
        return s
    try:
        key: Hashable = _tuples(json.loads(s))
        return key
    except ValueError:
        return s


#: ARGV: n, then per item: index of the current bucket's hash in KEYS, index of the
#: previous bucket's hash (0: push only, no read back), field, amount, ttl in ms.
#: Returns the current and previous sums of each item read back.
SUM_SYNC = """
local n = tonumber(ARGV[1])
local out = {}
local j = 2
for i = 1, n do
  local cur = KEYS[tonumber(ARGV[j])]
  local prev = tonumber(ARGV[j + 1])
  local field = ARGV[j + 2]
  if ARGV[j + 3] ~= '0' then
    redis.call('HINCRBYFLOAT', cur, field, ARGV[j + 3])
    redis.call('PEXPIRE', cur, ARGV[j + 4])
  end
  if prev > 0 then
    out[#out + 1] = redis.call('HGET', cur, field) or '0'
    out[#out + 1] = redis.call('HGET', KEYS[prev], field) or '0'
  end
  j = j + 5
end
return out
"""

#: KEYS: one sorted set per item. ARGV: n, then per item: horizon (scores at or below
#: it have left the window), max members, ttl in ms, m, then m pairs member, last seen.
#: Adds (keeping the latest time of a member), trims, and returns each set's size.
DISTINCT_SYNC = """
local n = tonumber(ARGV[1])
local out = {}
local j = 2
for i = 1, n do
  local k = KEYS[i]
  local horizon = ARGV[j]
  local maxm = tonumber(ARGV[j + 1])
  local ttl = ARGV[j + 2]
  local m = tonumber(ARGV[j + 3])
  j = j + 4
  for _ = 1, m do
    redis.call('ZADD', k, 'GT', ARGV[j + 1], ARGV[j])
    j = j + 2
  end
  redis.call('ZREMRANGEBYSCORE', k, '-inf', horizon)
  local c = redis.call('ZCARD', k)
  if c > maxm then
    redis.call('ZREMRANGEBYRANK', k, 0, c - maxm - 1)
    c = maxm
  end
  if m > 0 then
    redis.call('PEXPIRE', k, ttl)
  end
  out[i] = c
end
return out
"""
