import pytest

from gateway.config import Config, ConfigError, load_config, parse_config


def test_defaults_work():
    cfg = parse_config({})
    assert cfg == Config()
    assert cfg.smpp.upstream.temporary_error_status == 0x58


def test_full_design_example(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("""
[gateway]
home_country = "GB"
[smpp]
listen = "0.0.0.0:2775"
[smpp.upstream]
address = "smsc.example:2775"
[[smpp.clients]]
system_id = "acme"
max_binds = 4
[agi]
listen = "0.0.0.0:4573"
[admin]
listen = "127.0.0.1:8080"
token = "change-me"
[rules]
dir = "rules"
[lists]
dir = "lists"
[state]
backend = "memory"
""")
    cfg = load_config(p)
    assert cfg.smpp.clients[0].system_id == "acme" and cfg.smpp.clients[0].max_binds == 4
    assert cfg.smpp.upstream.address == "smsc.example:2775"


@pytest.mark.parametrize(("data", "message"), [
    ({"smpp": {"upstream": {"adress": "x:1"}}}, "smpp.upstream.adress: unknown key"),
    ({"smpp": {"window": "100"}}, "smpp.window: expected an integer"),
    ({"agi": {"listen": "nowhere"}}, "agi.listen: expected HOST:PORT"),
    ({"state": {"backend": "mongo"}}, "state.backend: expected one of memory, redis"),
    ({"gateway": {"home_country": "XX"}}, "gateway.home_country: unknown country"),
    ({"smpp": {"clients": [{"max_binds": True}]}}, "smpp.clients[0].max_binds"),
])
def test_mistakes_name_their_path(data, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(data)


@pytest.mark.parametrize("name", ["spamgw.toml", "demo.toml"])
def test_shipped_example_configs_load(name):
    from pathlib import Path

    cfg = load_config(Path(__file__).resolve().parents[2] / "examples" / name)
    assert cfg.source.endswith(name)
