"""SMPP over TLS on real sockets: an ESME binds to the proxy's TLS listener, and the
proxy reaches the SMSC over TLS (a TLS terminator in front of the simulator, as an
SMSC's TLS port is), the SMSC's certificate verified."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from smpp_support import RawEsme, running_proxy, start_sim

from gateway.config import ConfigError, SmppConfig
from gateway.smpp.pdu import BindTransceiver, SubmitSm
from gateway.smpp.session import PduReceived, Role, Session
from gateway.tls import server_context

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")]


@pytest.fixture
def cert(tmp_path: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    crt, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return str(crt), str(key)


@contextlib.contextmanager
def tls_terminator(crt: str, key: str, target: int) -> Iterator[int]:
    """A TLS port in front of a plain one (the SMSC's TLS port)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        finally:
            w.close()

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        r2, w2 = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(r, w2), pipe(r2, w), return_exceptions=True)

    server = asyncio.run_coroutine_threadsafe(
        asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx), loop).result(10)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()

        async def cancel_pipes() -> None:
            # a connection still open has its pipes closed on this loop while it runs,
            # not finalised later by the collector after the loop is gone
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_pipes(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _bind_status(port: int) -> int | None:
    """A plain bind_transceiver: its response's status, or None if the connection
    closed without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        session = Session(Role.ESME)
        s.sendall(session.send(BindTransceiver(system_id="acme", password="x")))
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            return None
        if not data:
            return None
        (ev,) = session.receive_data(data)
        assert isinstance(ev, PduReceived)
        return int(ev.pdu.command_status)


def _submit(esme: RawEsme, text: bytes) -> int:
    seq = esme.send(SubmitSm(source_addr_ton=1, source_addr="447700900123", dest_addr_ton=1,
                             destination_addr="447700900456", short_message=text))
    (resp,) = esme.read(1)
    assert resp.sequence_number == seq
    return int(resp.command_status)


def test_esme_over_tls_through_the_proxy_to_an_smsc_over_tls(tmp_path: Path,
                                                            cert: tuple[str, str]) -> None:
    crt, key = cert
    sim = start_sim(tmp_path / "sim.jsonl")
    client = ssl.create_default_context(cafile=crt)
    try:
        with tls_terminator(crt, key, sim.port) as smsc_tls, \
                running_proxy(smsc_tls, upstream_tls_ca=crt, tls_cert=crt, tls_key=key) as gw:
            assert _bind_status(gw.port) is None  # plain SMPP to the TLS listener
            esme = RawEsme(gw.port, tls=client)
            try:
                assert _submit(esme, b"over TLS both ways") == 0
            finally:
                esme.close()
        (got,) = sim.records("accepted")
        assert bytes.fromhex(got["pdu"]).endswith(b"over TLS both ways")
    finally:
        sim.stop()


def test_an_smsc_certificate_not_trusted_fails_the_bind(tmp_path: Path,
                                                        cert: tuple[str, str]) -> None:
    crt, key = cert
    sim = start_sim(tmp_path / "sim.jsonl")
    try:
        with tls_terminator(crt, key, sim.port) as smsc_tls, \
                running_proxy(smsc_tls, upstream_tls_ca="") as gw:  # the system's CAs
            assert _bind_status(gw.port) == 0x0D  # ESME_RBINDFAIL
        assert not sim.records()
    finally:
        sim.stop()


def test_tls_files_that_do_not_load_are_config_errors(tmp_path: Path,
                                                      cert: tuple[str, str]) -> None:
    crt, _key = cert
    with pytest.raises(ConfigError, match=r"smpp\.tls_cert and smpp\.tls_key: give both"):
        server_context(crt, "", "smpp")
    with pytest.raises(ConfigError, match=r"admin\.tls_cert: .*cannot load"):
        server_context(crt, str(tmp_path / "missing.pem"), "admin")
    assert server_context("", "", "smpp") is None
    assert SmppConfig().tls_cert == ""
