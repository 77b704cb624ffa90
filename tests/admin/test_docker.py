"""The Docker image's promises (issue 13): a HEALTHCHECK that needs no curl, a writable
data directory, the config at /etc/spamgw/spamgw.toml, a non-root user, a
``.dockerignore``. There is no Docker daemon here, so the Dockerfile is read
statically, and its config runs through ``python -m gateway run`` with the image's
paths mapped onto this checkout and a temporary data directory; the HEALTHCHECK's own
command then asks that gateway. With a daemon, ``test_the_image_builds_and_is_healthy``
builds and runs the image."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from admin_support import ROOT

from gateway.config import load_config
from gateway.testing.ports import free_port

pytestmark = pytest.mark.timeout(120)

DOCKERFILE = ROOT / "Dockerfile"
CONFIG_IN_IMAGE = "/etc/spamgw/spamgw.toml"
DATA = "/var/lib/spamgw"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _one(word: str) -> str:
    found = [rest for w, rest in _instructions() if w == word]
    assert len(found) == 1, (word, found)
    return found[0]


def _exec_form(rest: str) -> list[str]:
    value = json.loads(rest)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), rest
    return value


def _copies() -> dict[str, str]:
    """COPY destination -> source (build-context paths)."""
    out = {}
    for word, rest in _instructions():
        if word == "COPY":
            *sources, dest = shlex.split(rest)
            for s in sources:
                out[dest if not dest.endswith("/") else dest + s] = s
    return out


def _healthcheck() -> list[str]:
    rest = _one("HEALTHCHECK")
    assert "--interval=" in rest and "--timeout=" in rest, rest
    cmd = rest[rest.index("CMD") + 3:].strip()
    return _exec_form(cmd)


def _image_config() -> Path:
    copies = _copies()
    assert CONFIG_IN_IMAGE in copies, copies
    return ROOT / copies[CONFIG_IN_IMAGE]


def test_the_dockerfile_keeps_its_promises() -> None:
    # non-root, by a name that exists in the image
    user = _one("USER")
    assert user not in ("root", "0") and not user.startswith(("root:", "0:")), user
    run = " ".join(rest for w, rest in _instructions() if w == "RUN")
    assert re.search(rf"useradd\b.*\b{re.escape(user)}\b", run), run
    # a data directory that user owns, declared a volume
    assert f"chown -R {user}:{user} {DATA}" in run or f"chown -R {user} {DATA}" in run
    assert _exec_form(_one("VOLUME")) == [DATA]
    # the config where the command reads it
    assert _exec_form(_one("ENTRYPOINT")) + _exec_form(_one("CMD")) == [
        "spamgw", "run", "--config", CONFIG_IN_IMAGE]
    assert _image_config().is_file()
    # the health check: no curl or wget (not in the slim image), /healthz on the admin port
    check = _healthcheck()
    assert check[0] == "python" and "curl" not in " ".join(check) and "wget" not in check
    assert "http://127.0.0.1:8080/healthz" in check[-1]
    # every port the config listens on is exposed
    cfg = load_config(str(_image_config()))
    ports = {int(a.rsplit(":", 1)[1]) for a in (cfg.smpp.listen, cfg.agi.listen,
                                                  cfg.admin.listen)}
    assert ports == {int(p) for p in _one("EXPOSE").split()}
    # inside the container it listens on all addresses, writes only under the volume,
    # and reads the rules and plugins the image copies to /app
    for listen in (cfg.smpp.listen, cfg.agi.listen, cfg.admin.listen):
        assert listen.startswith("0.0.0.0:"), listen
    assert cfg.lists.dir.startswith(f"{DATA}/") and cfg.quarantine.path.startswith(f"{DATA}/")
    assert f"cp -r /app/rules/lists {cfg.lists.dir}" in run
    assert _one("WORKDIR") == "/app"
    copies = _copies()
    assert copies["./rules"] == "rules" and cfg.rules.dir == "/app/rules"
    assert copies["./plugins"] == "plugins" and cfg.plugins.dir == "/app/plugins"
    assert [t.token_env for t in cfg.admin.tokens] == ["SPAMGW_ADMIN_TOKEN"]


def test_dockerignore_leaves_out_the_clutter_but_nothing_the_build_copies() -> None:
    ignore = ROOT / ".dockerignore"
    patterns = [p.strip() for p in ignore.read_text().splitlines()
                if p.strip() and not p.startswith("#")]

    def ignored(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        return any(fnmatch.fnmatch(pre, pat) or fnmatch.fnmatch(pre, pat.removeprefix("**/"))
                   for pat in patterns for pre in prefixes)

    for must in (".git", "tests", "test-artifacts", "spamgw-quarantine.sqlite3",
                 "gateway/__pycache__", "rules/lists/blocked_numbers.journal"):
        assert ignored(must), must
    for src in _copies().values():
        assert not ignored(src), src
        for f in (ROOT / src).rglob("*") if (ROOT / src).is_dir() else [ROOT / src]:
            rel = f.relative_to(ROOT).as_posix()
            if f.suffix in (".py", ".toml", ".txt", ".gz", ".json", ".md") and \
                    "__pycache__" not in rel:
                assert not ignored(rel), rel


def test_the_image_config_runs_and_the_healthcheck_passes(tmp_path: Path) -> None:
    """The shipped container config, the image's paths mapped here: /app -> this
    checkout, /var/lib/spamgw -> a temporary dir seeded as the image seeds it, and the
    listeners moved to free loopback ports. The gateway starts, writes its data there,
    and the Dockerfile's HEALTHCHECK command exits 0 against it."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copytree(ROOT / "rules" / "lists", data / "lists")  # the Dockerfile's cp -r
    ports = {"2775": free_port(), "4573": free_port(), "8080": free_port()}
    text = _image_config().read_text().replace('"/app/', f'"{ROOT}/').replace(
        f'"{DATA}/', f'"{data}/')
    for inside, here in ports.items():
        text = text.replace(f'"0.0.0.0:{inside}"', f'"127.0.0.1:{here}"')
    config = tmp_path / "etc" / "spamgw.toml"
    config.parent.mkdir()
    config.write_text(text)
    cfg = load_config(str(config))
    for listen in (cfg.smpp.listen, cfg.agi.listen, cfg.admin.listen):
        assert listen.startswith("127.0.0.1:"), listen
    for path in (cfg.rules.dir, cfg.lists.dir, cfg.plugins.dir, cfg.quarantine.path):
        assert path.startswith((str(ROOT), str(data))), path
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}

    # without the token's variable the container refuses to start, and says why
    res = subprocess.run([sys.executable, "-m", "gateway", "run", "--config", str(config)],
                         capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 2
    assert "environment variable SPAMGW_ADMIN_TOKEN is empty or unset" in res.stderr

    env["SPAMGW_ADMIN_TOKEN"] = "a-container-token-0123456789"
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--config", str(config)],
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            assert '"level": "error"' not in line, line
            if '"admin listening"' in line:
                break
        else:
            raise AssertionError(f"gateway exited with {proc.wait()}")
        check = _healthcheck()
        check = [sys.executable, *check[1:-1],
                 check[-1].replace("127.0.0.1:8080", f"127.0.0.1:{ports['8080']}")]
        assert subprocess.run(check, timeout=30).returncode == 0
        # the data directory is where it writes
        for _ in range(100):
            if (data / "quarantine.sqlite3").exists():
                break
            time.sleep(0.05)
        assert (data / "quarantine.sqlite3").exists()
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()
    # and a dead gateway fails the same check
    assert subprocess.run(check, capture_output=True, timeout=30).returncode != 0


def _docker_daemon() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True,
                              timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.mark.skipif(os.environ.get("SPAMGW_DOCKER_BUILD") != "1" or not _docker_daemon(),
                    reason="needs a Docker daemon and SPAMGW_DOCKER_BUILD=1")
def test_the_image_builds_and_is_healthy() -> None:  # pragma: no cover - no daemon here
    tag = "spamgw:test"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=1800)
    user = subprocess.run(["docker", "run", "--rm", "--entrypoint", "id", tag, "-u"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert user != "0"
    name = f"spamgw-test-{os.getpid()}"
    subprocess.run(["docker", "run", "-d", "--name", name, "-e",
                    "SPAMGW_ADMIN_TOKEN=a-container-token-0123456789", tag], check=True)
    try:
        for _ in range(120):
            state = subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}",
                                    name], capture_output=True, text=True).stdout.strip()
            if state in ("healthy", "unhealthy"):
                break
            time.sleep(1)
        assert state == "healthy"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
