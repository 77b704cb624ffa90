"""What the redis backend writes: key names, key encoding, and the sync script.

Layout under the prefix (``spamgw:`` by default):

- ``s:{name}:{window}:{bucket}``: hash, field = encoded key, value = the cluster sum of
  that fixed window (``bucket = floor(ts / window)``); expires 2 windows after its
  last write.
- ``dm:{name}:{window}:{key}``: sorted set, member = encoded member, score = last seen
  (event time, in whole milliseconds); trimmed to the window and to ``max_members``
  newest on every sync. (Until 26 Nov 2026 ``d:...`` with scores in seconds: the new
  name keeps processes of the two versions from trimming each other's sets.)
- ``f:{list}``: sorted set of a flag list, member = encoded key, score = expiry.
- ``flists``: set of flag list names; ``flog``: stream of flag changes (``n`` list,
  ``k`` key, ``e`` expiry or empty for unflag, ``o`` origin), so other processes
  follow changes incrementally; ``epoch``: a random id, gone when Redis lost its data.
- ``procs``: sorted set of the syncing processes (member = origin id, score = Redis
  time in ms of its last sync); a process silent for ``live`` ms leaves it.
- ``in:{origin}``: list, a process's inbox: one JSON change record per sync of every
  other live process that changed something (the new cluster totals of the sums it
  pushed, the sizes of the distinct sets it pushed), read and emptied by the owner's
  next sync; at most ``cap`` records (past it the oldest go, and ``in:{origin}:lost``
  tells the owner to read everything again); expires after ``live`` ms.

On a Redis Cluster (``redis+cluster://``) the prefix is one per shard,
``{<prefix><n>}:`` (``shard_prefixes``): a key's sums field and distinct set go to
the shard of a CRC-32 of its encoded key, each shard has its own ``procs`` and
inboxes, and the flags (``f:``, ``flists``, ``flog``, ``epoch``) live under the first
shard's prefix.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any, cast

__all__ = ["SLOTS", "SYNC", "decode_key", "encode_key", "shard_prefixes"]


#: ``json.dumps(k, separators=(",", ":"), ensure_ascii=False)`` without building an
#: encoder per call (``json.dumps`` with arguments does, which cost 2 us a key)
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
#: a str as JSON (ensure_ascii=False), the C function ``json`` itself calls
_string = json.encoder.encode_basestring


def encode_key(k: Hashable) -> str:
    """A stable text form: ints as digits, everything else as JSON (tuples as arrays);
    what JSON cannot carry falls back to ``~repr`` (kept apart, never decoded back).

    Ints, strs and flat tuples of them (the engine's usual keys) are written here
    directly, as ``json.dumps`` would write them (``tests/state/test_wire.py``)."""
    t = type(k)
    if t is int:
        return str(k)
    if t is str:
        return _string(cast(str, k))
    if t is tuple:
        kt = cast(tuple[Any, ...], k)
        if len(kt) == 2:  # (route, range), (sender, ...): the most common
            a, b = kt
            ta, tb = type(a), type(b)
            if ta is str and tb is int:
                return "[" + _string(a) + "," + str(b) + "]"
            if ta is int and tb is int:
                return "[" + str(a) + "," + str(b) + "]"
        parts = []
        for x in kt:
            tx = type(x)
            if tx is int:
                parts.append(str(x))
            elif tx is str:
                parts.append(_string(x))
            else:
                break
        else:
            return "[" + ",".join(parts) + "]"
    try:
        return _dumps(k)
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


# The script takes its batch as JSON arguments and answers JSON strings: packing and
# parsing one string costs the client a few microseconds, where one argument or reply
# element each would cost several (measured by loadtest/bench_state.py). It names its
# keys at run time, under one prefix: on a Redis Cluster each shard's prefix carries a
# hash tag, so all of a shard's keys share one slot and the script runs where they are.

#: Redis Cluster's number of hash slots
SLOTS = 16384


def shard_prefixes(prefix: str, shards: int, cluster: bool) -> list[str]:
    """Each shard's key prefix. One shard outside a Cluster: ``prefix`` itself (the
    names every version has used). On a Cluster, ``{<prefix><n>}:`` with a hash tag
    whose slot falls in the shard's share of the 16,384 slots (the i-th of ``shards``
    equal ranges: the smallest such ``n``), so the shards spread over the primaries
    as evenly as the slot ranges do, and every process picks the same tags."""
    if shards == 1 and not cluster:
        return [prefix]
    from redis.crc import key_slot

    out: list[str] = []
    n = 0
    for i in range(shards):
        lo, hi = i * SLOTS // shards, (i + 1) * SLOTS // shards
        while True:  # about ``shards`` tries a shard: the slots of tags are uniform
            tag = f"{prefix}{n}"
            n += 1
            if lo <= key_slot(tag.encode()) < hi:
                out.append("{" + tag + "}:")
                n = 0
                break
    return out

#: One sync: push, read back what is new here, fan the changes out, read the inbox.
#: ARGV: prefix, origin, live ms, inbox cap, JSON array of hash names, JSON of the sums
#: as columns [[current hash index, ...], [previous hash index (0: not read), ...],
#: [field, ...], [amount ("0": none), ...], [ttl ms of each hash, ...]], JSON of the
#: distinct counts [base ms, heads, [head index, ...], [encoded key, ...], [latest
#: time, ...], [number of members, ...], [last seen, ...], [member, ...]]: each head
#: [counter name:window, window ms, max members, ttl ms]; a set is ``dm:{head}:{key}``,
#: its members follow those of the sets before it, times are ms after base, and
#: scores at or below its latest time less the window have left it.
#: ARGV[8]: the last id of the flag log read ("": the flag log is not read here, the
#: first shard's script reads it). KEYS[1] is the shard's ``procs``: it only routes the
#: script to its node in a Redis Cluster (every key the script names shares its hash
#: tag, ``shard_prefixes``).
#: Returns [whole, sums, sets, flog, record, record, ...]: ``whole`` 1 when this process
#: was registered all along (every change of the others since its last sync is in the
#: records), 0 when it must read its keys again; ``sums`` JSON [current, previous (-1:
#: not read), ...] per sum item; ``sets`` JSON [size, ...] per distinct item; ``flog``
#: JSON of the flag log after ARGV[8] (at most 10,000 entries, [id, [field, value,
#: ...]] each); the
#: records JSON {"h": hash names, "s": [[hash index, field, total], ...], "d": [[sorted
#: set, size], ...]} as the other processes' syncs wrote them.
SYNC = """
local p, me = ARGV[1], ARGV[2]
local live, cap = tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local procs, inbox = p .. 'procs', p .. 'in:' .. me
local whole = 1
local seen = redis.call('ZSCORE', procs, me)
if not seen or now - tonumber(seen) > live then
  whole = 0
end
redis.call('ZADD', procs, now, me)
redis.call('ZREMRANGEBYSCORE', procs, '-inf', now - live)

local hashes = cjson.decode(ARGV[5])
local sj = cjson.decode(ARGV[6])
local curs, prevs, fields, amounts, ttls = sj[1], sj[2], sj[3], sj[4], sj[5]
local sums = {}
local chs = {}
local expiring = {}
for i = 1, #curs do
  local ci, f = curs[i], fields[i]
  local cur = hashes[ci]
  local total
  if amounts[i] ~= '0' then
    total = redis.call('HINCRBYFLOAT', cur, f, amounts[i])
    if not expiring[ci] then
      redis.call('PEXPIRE', cur, ttls[ci])
      expiring[ci] = true
    end
    chs[#chs + 1] = {ci, f, total}
  else
    total = redis.call('HGET', cur, f) or '0'
  end
  sums[#sums + 1] = tonumber(total)
  if prevs[i] > 0 then
    sums[#sums + 1] = tonumber(redis.call('HGET', hashes[prevs[i]], f) or '0')
  else
    sums[#sums + 1] = -1
  end
end

local sets = {}
local chd = {}
local sd = cjson.decode(ARGV[7])
local base, heads = sd[1], sd[2]
local heads_of, keys, nows, counts, times, members = sd[3], sd[4], sd[5], sd[6], sd[7], sd[8]
local at = 0
for i = 1, #heads_of do
  local h = heads[heads_of[i]]
  local k = p .. 'dm:' .. h[1] .. ':' .. keys[i]
  local n = counts[i]
  for j = 1, n, 400 do
    local args = {}
    for m = at + j, at + math.min(j + 399, n) do
      args[#args + 1] = base + times[m]
      args[#args + 1] = members[m]
    end
    redis.call('ZADD', k, 'GT', unpack(args))
  end
  at = at + n
  redis.call('ZREMRANGEBYSCORE', k, '-inf', base + nows[i] - h[2])
  local c = redis.call('ZCARD', k)
  if c > h[3] then
    redis.call('ZREMRANGEBYRANK', k, 0, c - h[3] - 1)
    c = h[3]
  end
  if n > 0 then
    redis.call('PEXPIRE', k, h[4])
    chd[#chd + 1] = {k, c}
  end
  sets[i] = c
end

if #chs > 0 or #chd > 0 then
  local record = cjson.encode({h = hashes, s = chs, d = chd})
  for _, other in ipairs(redis.call('ZRANGE', procs, 0, -1)) do
    if other ~= me then
      local box = p .. 'in:' .. other
      if redis.call('RPUSH', box, record) > cap then
        redis.call('LTRIM', box, -cap, -1)
        redis.call('SET', box .. ':lost', '1', 'PX', live)
      end
      redis.call('PEXPIRE', box, live)
    end
  end
end

local flog = {}
if ARGV[8] ~= '' then
  flog = redis.call('XRANGE', p .. 'flog', '(' .. ARGV[8], '+', 'COUNT', 10000)
end
local out = {whole, #sums > 0 and cjson.encode(sums) or '[]',
             #sets > 0 and cjson.encode(sets) or '[]',
             #flog > 0 and cjson.encode(flog) or '[]'}
if redis.call('DEL', inbox .. ':lost') == 1 then
  out[1] = 0
end
for _, record in ipairs(redis.call('LRANGE', inbox, 0, -1)) do
  out[#out + 1] = record
end
redis.call('DEL', inbox)
return out
"""
