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


def test_trunks_are_classified_and_validated():
    cfg = parse_config({"agi": {
        "trunks": [{"name": "intl-gw", "class": "international"},
                   {"name": "roam-vf", "class": "roaming_partner"},
                   {"name": "pbx-acme", "class": "pbx", "daily_cap": 80.0}],
        "default_trunk_class": "national",
        "spend": {"daily_cap": 20.0, "max_call_seconds": 3600},
    }})
    assert [(t.name, t.trunk_class) for t in cfg.agi.trunks] == [
        ("intl-gw", "international"), ("roam-vf", "roaming_partner"), ("pbx-acme", "pbx")]
    assert cfg.agi.trunks[2].daily_cap == 80.0 and cfg.agi.spend.daily_cap == 20.0


@pytest.mark.parametrize(("data", "message"), [
    ({"agi": {"trunks": [{"name": "x", "class": "intl"}]}},
     "agi.trunks[0].class: expected one of national, international"),
    ({"agi": {"trunks": [{"name": "x", "clas": "pbx"}]}}, "agi.trunks[0].clas: unknown key"),
    ({"agi": {"trunks": [{"name": "x", "trunk_class": "pbx"}]}},
     "agi.trunks[0].trunk_class: unknown key"),
    ({"agi": {"trunks": [{"class": "pbx"}]}}, "agi.trunks[0].name: every trunk needs a name"),
    ({"agi": {"trunks": [{"name": "x"}, {"name": "x"}]}}, "agi.trunks[1].name: trunk 'x'"),
    ({"agi": {"trunks": [{"name": "x", "daily_cap": "10"}]}},
     "agi.trunks[0].daily_cap: expected a number"),
    ({"agi": {"default_trunk_class": "carrier"}}, "agi.default_trunk_class: expected one of"),
    ({"agi": {"spend": {"daily_cap": -1}}}, "agi.spend.daily_cap: must not be negative"),
    ({"agi": {"spend": {"dailycap": 1}}}, "agi.spend.dailycap: unknown key"),
])
def test_trunk_and_spend_mistakes_name_their_path(data, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(data)


def test_fastagi_listens_on_loopback_and_takes_an_allowlist():
    assert Config().agi.listen == "127.0.0.1:4573"
    cfg = parse_config({"agi": {"allowed_peers": ["10.1.2.0/24", "::1"], "max_connections": 5}})
    assert cfg.agi.allowed_peers == ("10.1.2.0/24", "::1") and cfg.agi.max_connections == 5
    with pytest.raises(ConfigError, match=r"agi.allowed_peers\[1\]: not an address"):
        parse_config({"agi": {"allowed_peers": ["10.0.0.1", "asterisk.local"]}})


def test_relative_paths_resolve_against_the_config_files_directory(tmp_path, monkeypatch):
    conf = tmp_path / "etc" / "spamgw.toml"
    conf.parent.mkdir()
    conf.write_text('[rules]\ndir = "rules"\n[plugins]\ndir = "../plugins"\n'
                    '[quarantine]\npath = "q.sqlite3"\n[log]\naudit = "/var/log/a.jsonl"\n')
    monkeypatch.chdir(tmp_path.parent)  # started from somewhere else
    cfg = load_config(conf)
    assert cfg.rules.dir == str(tmp_path / "etc" / "rules")
    assert cfg.plugins.dir == str(tmp_path / "plugins")
    assert cfg.lists.dir == str(tmp_path / "etc" / "rules" / "lists")  # the default too
    assert cfg.quarantine.path == str(tmp_path / "etc" / "q.sqlite3")
    assert cfg.log.audit == "/var/log/a.jsonl"


def test_preflight_names_a_missing_dir_and_refuses_default_or_empty_tokens(tmp_path):
    from gateway.preflight import preflight

    for d in ("rules", "rules/lists", "plugins"):
        (tmp_path / d).mkdir(parents=True)
    conf = tmp_path / "spamgw.toml"

    def check(text):
        conf.write_text(text)
        preflight(load_config(conf))

    check('[admin]\ntoken = "s3cret-enough-4u"\n')
    check('[admin]\nenabled = false\n')
    for text, message in (
        ("", "admin.token: empty"),
        ('[admin]\ntoken = "change-me"\n', "admin.token: 'change-me' is a known default"),
        ('[admin]\ntoken = "s3cret-enough-4u"\n[plugins]\ndir = "plugins-typo"\n',
         f"plugins.dir: {tmp_path / 'plugins-typo'}: no such directory"),
        ('[admin]\ntoken = "s3cret-enough-4u"\n[rules]\ndir = "/nowhere/rules"\n',
         "rules.dir: /nowhere/rules: no such directory"),
    ):
        with pytest.raises(ConfigError, match=message):
            check(text)
    (tmp_path / "admin.token").write_text("from-a-file-123\n")
    conf.write_text('[admin]\ntoken_file = "admin.token"\n')
    cfg = load_config(conf)
    assert cfg.admin.token == "from-a-file-123"
    preflight(cfg)
    conf.write_text('[admin]\ntoken_file = "missing.token"\n')
    with pytest.raises(ConfigError, match=r"admin\.token_file: .*missing\.token"):
        load_config(conf)


def test_admin_tokens_from_files_and_environment_with_roles(tmp_path, monkeypatch):
    from gateway.config import bearer_tokens
    from gateway.preflight import preflight

    for d in ("rules", "rules/lists", "plugins"):
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
    (tmp_path / "noc.token").write_text("noc-token-from-file\n")
    monkeypatch.setenv("SPAMGW_TEST_GRAFANA", "grafana-token-from-env")
    conf = tmp_path / "spamgw.toml"
    conf.write_text("""
[[admin.tokens]]
name = "noc"
role = "operator"
token_file = "noc.token"
[[admin.tokens]]
name = "grafana"
role = "read"
token_env = "SPAMGW_TEST_GRAFANA"
""")
    cfg = load_config(conf)
    preflight(cfg)  # no [admin] token: the named ones are enough
    assert bearer_tokens(cfg.admin) == {"noc-token-from-file": ("noc", "operator"),
                                        "grafana-token-from-env": ("grafana", "read")}
    monkeypatch.delenv("SPAMGW_TEST_GRAFANA")
    with pytest.raises(ConfigError, match=r"admin\.tokens\[1\]: token 'grafana': "
                                          "environment variable SPAMGW_TEST_GRAFANA"):
        preflight(load_config(conf))
    with pytest.raises(ConfigError, match=r"admin\.tokens\[0\]\.role: expected one of"):
        parse_config({"admin": {"tokens": [{"name": "x", "role": "root", "token": "abc"}]}})
    with pytest.raises(ConfigError, match=r"admin\.tokens\[0\]: token 'x' is a known"):
        preflight(parse_config({"admin": {"tokens": [{"name": "x", "token": "change-me"}]},
                               "rules": {"dir": str(tmp_path / "rules")},
                               "lists": {"dir": str(tmp_path / "rules/lists")},
                               "plugins": {"dir": str(tmp_path / "plugins")}}))
