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


# The scripts take their batch as one JSON argument and answer one JSON string: packing
# and parsing one string costs the client a few microseconds, where one argument or
# reply element each would cost several (measured by loadtest/bench_state.py). Being
# many keys in one script, they suit a standalone Redis (or Sentinel), not Cluster.

#: ARGV[1]: JSON array of hash names; ARGV[2]: JSON array of items
#: [current hash index, previous hash index (0: push only), field, amount, ttl ms].
#: Returns JSON [current sum, previous sum, ...] for each item read back.
SUM_SYNC = """
local hashes = cjson.decode(ARGV[1])
local items = cjson.decode(ARGV[2])
local out = {}
local expiring = {}
for _, it in ipairs(items) do
  local cur = hashes[it[1]]
  if it[4] ~= '0' then
    redis.call('HINCRBYFLOAT', cur, it[3], it[4])
    if not expiring[cur] then
      redis.call('PEXPIRE', cur, it[5])
      expiring[cur] = true
    end
  end
  if it[2] > 0 then
    out[#out + 1] = tonumber(redis.call('HGET', cur, it[3]) or '0')
    out[#out + 1] = tonumber(redis.call('HGET', hashes[it[2]], it[3]) or '0')
  end
end
if #out == 0 then
  return '[]'
end
return cjson.encode(out)
"""

#: ARGV[1]: JSON array of items [sorted set, horizon (scores at or below it have left
#: the window), max members, ttl ms, [last seen, member, last seen, member, ...]].
#: Adds (keeping a member's latest time), trims, and returns JSON [size, ...].
DISTINCT_SYNC = """
local items = cjson.decode(ARGV[1])
local out = {}
for i, it in ipairs(items) do
  local k, seen = it[1], it[5]
  for j = 1, #seen, 400 do
    redis.call('ZADD', k, 'GT', unpack(seen, j, math.min(j + 399, #seen)))
  end
  redis.call('ZREMRANGEBYSCORE', k, '-inf', it[2])
  local c = redis.call('ZCARD', k)
  if c > it[3] then
    redis.call('ZREMRANGEBYRANK', k, 0, c - it[3] - 1)
    c = it[3]
  end
  if #seen > 0 then
    redis.call('PEXPIRE', k, it[4])
  end
  out[i] = c
end
return cjson.encode(out)
"""
