"""List lookup speed and memory: NumberSet (roaring BitMap64) vs a Python set.

Prints, at 1M and 10M random UK mobile numbers: lookup ns (half hits, half misses),
bytes per entry, and the time to load the compiled list file. The Python set of
the same integer keys is the baseline, measured in the same run.

    python3 loadtest/bench_lists.py [--sizes 1000000,10000000]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.lists.files import load_number_list, write_atomic
from gateway.lists.numberset import NumberSet, Prefix
from gateway.numbers import key_of


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed_lookups(container, probes: list[int]) -> float:
    t0 = time.perf_counter_ns()
    for k in probes:
        k in container  # noqa: B015
    return (time.perf_counter_ns() - t0) / len(probes)


def timed_calls(contains, probes: list[int]) -> float:
    """As the engine asks: ``ns.contains(key)``, attribute lookup included."""
    t0 = time.perf_counter_ns()
    for k in probes:
        contains.contains(k)
    return (time.perf_counter_ns() - t0) / len(probes)


def run(size: int, rng: random.Random) -> None:
    numbers = rng.sample(range(447_000_000_000, 448_000_000_000), size)
    keys = [key_of(str(n)) for n in numbers]
    misses = [key_of(str(n)) for n in rng.sample(range(447_000_000_000, 448_000_000_000),
                                                  100_000)]
    probes = rng.sample(keys, min(100_000, size)) + misses
    rng.shuffle(probes)

    gc.collect()
    base = rss_bytes()
    pyset = set(keys)
    pyset_bytes = rss_bytes() - base
    t_py = timed_lookups(pyset, probes)
    del pyset
    gc.collect()

    ns = NumberSet("bench")
    ns.add_keys(keys)
    ns.add_prefix(Prefix("4477009001"))  # a real list has a few prefixes too
    ns.optimize()
    bm_bytes = ns.size_in_bytes()
    t_ns = timed_calls(ns, probes)
    t_bm = timed_lookups(ns._combined, probes)  # the bitmap alone, no method call

    with tempfile.TemporaryDirectory() as d:
        txt = Path(d) / "bench_numbers.txt"
        txt.write_text("".join(f"+{n}\n" for n in numbers))
        t0 = time.perf_counter()
        from gateway.lists.files import read_number_list

        parsed = read_number_list(txt)
        t_text = time.perf_counter() - t0
        comp = txt.with_suffix(".nset")
        write_atomic(comp, parsed.serialize())
        os.utime(comp)
        t0 = time.perf_counter()
        loaded = load_number_list(txt)
        t_load = time.perf_counter() - t0
        assert all(k in loaded for k in keys[:1000])
        file_bytes = comp.stat().st_size

    print(f"\n{size:,} random numbers (+447xxxxxxxxx)")
    print(f"  {'':28s}{'lookup ns':>10s}{'bytes/entry':>13s}")
    print(f"  {'python set of int keys':28s}{t_py:10.0f}{pyset_bytes / size:13.1f}")
    print(f"  {'NumberSet.contains(key)':28s}{t_ns:10.0f}{bm_bytes / size:13.2f}")
    print(f"  {'BitMap64 in (no wrapper)':28s}{t_bm:10.0f}{'':13s}")
    print(f"  ratios vs python set: lookup {t_ns / t_py:.2f}x, memory "
          f"{bm_bytes / max(pyset_bytes, 1):.3f}x")
    print(f"  compiled file {file_bytes / size:.2f} bytes/entry; load {t_load * 1000:.0f} ms "
          f"(text parse of the same list: {t_text:.1f} s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000")
    args = ap.parse_args()
    rng = random.Random(7726)
    for size in (int(s) for s in args.sizes.split(",")):
        run(size, rng)


if __name__ == "__main__":
    main()
