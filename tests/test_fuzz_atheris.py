"""Coverage-guided fuzzing of the SMPP and AGI codecs with atheris (libFuzzer), where
atheris is installed (``pip install atheris``); skipped elsewhere.

As a script it is the fuzzer: ``python tests/test_fuzz_atheris.py smpp|agi
-runs=N`` (any libFuzzer flags). Each input is cut into chunks by its first byte and
fed to a fresh ``Session(Role.SMSC)`` / ``AgiConnection``; the SMPP bytes also go to
``decode``. Anything but the codecs' typed errors is a crash: libFuzzer stops and
writes the input to ``crash-*``. The test runs each target a bounded number of runs
(``SPAMGW_ATHERIS_RUNS``, 20000) and reads libFuzzer's count of inputs tried."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("SPAMGW_ATHERIS_RUNS", "20000"))


def _chunks(data: bytes) -> list[bytes]:
    if not data:
        return []
    step = 1 + data[0] % 23
    body = data[1:]
    return [body[i:i + step] for i in range(0, len(body), step)]


def smpp_target(data: bytes) -> None:
    from gateway.smpp.codec import RemoteProtocolError, decode
    from gateway.smpp.session import BadPdu, Role, Session

    session = Session(Role.SMSC)
    for chunk in _chunks(data):
        for ev in session.receive_data(chunk):
            if isinstance(ev, BadPdu) and ev.reply is not None:
                decode(ev.reply)  # a reply the session makes always decodes
    try:
        decode(data)
    except RemoteProtocolError:
        pass


def agi_target(data: bytes) -> None:
    from gateway.agi import codec as agi

    conn = agi.AgiConnection()
    try:
        for chunk in [*_chunks(data), b""]:
            conn.receive_data(chunk)
            while True:
                ev = conn.next_event()
                if ev is agi.NEED_DATA or isinstance(ev, agi.ConnectionClosed):
                    break
                if isinstance(ev, agi.AgiEnvironment) and conn.state is agi.State.IDLE:
                    conn.send(agi.AgiCommand.set_variable("SPAMGW_ACTION", "ALLOW"))
    except agi.AgiError:
        pass


TARGETS = {"smpp": smpp_target, "agi": agi_target}


def seeds(name: str) -> list[bytes]:
    """Valid inputs to start from (the first byte is the chunk size): libFuzzer
    mutates them, so it reaches past the first check of each codec."""
    if name == "agi":
        from gateway.agi.codec import encode_environment

        env = encode_environment([("network", "yes"), ("network_script", "inbound"),
                                  ("callerid", "+447700900555"), ("extension", "123")],
                                 ["intl-gw"])
        return [b"\x05" + env, b"\x00" + env + b"200 result=1\n",
                b"\x03" + env + b"520-Invalid command syntax.\nusage\n"
                b"520 End of proper usage.\nHANGUP\n"]
    from gateway.smpp import pdu as P
    from gateway.smpp.codec import encode

    pdus = [P.BindTransceiver(sequence_number=1, system_id="acme", password="x"),
            P.SubmitSm(sequence_number=2, source_addr="447700900123",
                       destination_addr="447700900456", esm_class=0x40,
                       short_message=b"\x05\x00\x03\x01\x02\x01hello"),
            P.EnquireLink(sequence_number=3), P.Unbind(sequence_number=4)]
    return [b"\x07" + b"".join(encode(p) for p in pdus), b"\x00" + encode(pdus[1])]


def main(argv: list[str]) -> None:  # pragma: no cover - runs under libFuzzer
    import atheris

    name = argv[1]
    with atheris.instrument_imports():  # before anything else imports them
        import gateway.agi.codec
        import gateway.smpp.codec
        import gateway.smpp.session  # noqa: F401
    corpus = [Path(a) for a in argv[2:] if not a.startswith("-")]
    if corpus and corpus[0].is_dir() and not any(corpus[0].iterdir()):
        for i, seed in enumerate(seeds(name)):
            (corpus[0] / f"seed-{i}").write_bytes(seed)
    atheris.Setup([argv[0], *argv[2:]], TARGETS[name])
    atheris.Fuzz()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_atheris_finds_no_crash(target: str, tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # libFuzzer's RSS is the process's peak (getrusage), and Linux carries the peak of
    # the memory a child was forked or vforked with over exec: this test process's,
    # which a long test run has grown to 2 GB and more. The fuzzer may grow 2 GB past it.
    limit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 + 2048
    res = subprocess.run([sys.executable, __file__, target, f"-runs={RUNS}", "-seed=1",
                          "-max_len=1024", f"-rss_limit_mb={limit}", str(corpus)],
                         capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         timeout=580)
    done = re.search(r"Done (\d+) runs", res.stderr)
    assert res.returncode == 0 and done, res.stderr[-3000:]
    assert not list(tmp_path.glob("crash-*"))
    cov = re.findall(r"cov: (\d+)", res.stderr)
    print(f"\natheris {target}: {done.group(1)} inputs, 0 crashes, coverage "
          f"{cov[-1] if cov else '?'} edges, corpus {len(list(corpus.iterdir()))} inputs")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv)
