"""`ks1bot serve --role … --workers N`: which processes, on which ports, with which stores
(no server is started here; tests/scale starts them)."""
from __future__ import annotations

import pytest
import yaml

from ks1bot.app import serve as s
from ks1bot.core import metrics
from ks1bot.core.settings import SettingsError, parse_settings


@pytest.fixture
def defaults(tmp_path):
    return parse_settings({"data_dir": str(tmp_path)}, base_dir=tmp_path)


def test_all_roles_once_without_a_role_as_make_run(defaults, tmp_path):
    made = s.services(defaults, tmp_path / "m", s.Ports(), env={})
    assert [x.name for x in made] == ["actions", "rasa", "console", "mail"]
    assert "--http-listen" not in made[3].command          # make run: readiness is the SMTP port


def test_one_role_n_processes_on_consecutive_ports(defaults, tmp_path):
    rasa = s.services(defaults, tmp_path / "m", s.Ports(), env={}, role="rasa", workers=2)
    assert [x.name for x in rasa] == ["rasa-1", "rasa-2"] and {x.kind for x in rasa} == {"rasa"}
    assert [x.command[x.command.index("--port") + 1] for x in rasa] == ["5005", "5006"]
    mail = s.services(defaults, tmp_path / "m", s.Ports(), env={}, role="mail", workers=2)
    assert [x.command[x.command.index("--smtp-listen") + 1] for x in mail] == ["127.0.0.1:2525", "127.0.0.1:2526"]
    assert [x.command[x.command.index("--http-listen") + 1] for x in mail] == ["127.0.0.1:8025", "127.0.0.1:8026"]


def test_rasa_process_i_calls_the_i_th_action_server(defaults, tmp_path):
    env = {"KS1BOT_ACTIONS_URL": "http://127.0.0.1:6001/webhook,http://127.0.0.1:6002/webhook"}
    rasa = s.services(defaults, tmp_path / "m", s.Ports(), env=env, role="rasa", workers=2)
    urls = [yaml.safe_load(open(x.command[x.command.index("--endpoints") + 1]))["action_endpoint"]["url"] for x in rasa]
    assert urls == ["http://127.0.0.1:6001/webhook", "http://127.0.0.1:6002/webhook"]


def test_the_database_and_redis_urls_select_rasa_s_stores_without_writing_passwords(defaults):
    env = {"KS1BOT_DATABASE_URL": "postgresql://ks1bot:s3cret@db.internal:5433/ks1bot",
           "KS1BOT_REDIS_URL": "redis://:r3dis@cache.internal:6380/2"}
    path = s.endpoints_file(defaults, 5055, env=env)
    text = path.read_text()
    assert "s3cret" not in text and "r3dis" not in text
    endpoints = yaml.safe_load(text)
    assert endpoints["tracker_store"] == {"type": "SQL", "dialect": "postgresql", "url": "db.internal", "db": "ks1bot",
                                          "port": 5433, "username": "ks1bot",
                                          "password": "${KS1BOT_TRACKER_DB_PASSWORD}"}
    lock = endpoints["lock_store"]
    assert lock["type"] == "ks1bot.app.rasa_lock_store.AtomicRedisLockStore"
    assert (lock["url"], lock["port"], lock["db"], lock["password"]) == ("cache.internal", 6380, 2,
                                                                         "${KS1BOT_REDIS_PASSWORD}")
    assert env["KS1BOT_TRACKER_DB_PASSWORD"] == "s3cret" and env["KS1BOT_REDIS_PASSWORD"] == "r3dis"
    sqlite = yaml.safe_load(s.endpoints_file(defaults, 5055, env={}).read_text())
    assert sqlite["tracker_store"]["dialect"] == "sqlite" and "lock_store" not in sqlite


def test_a_role_needs_the_shared_tokens_from_the_environment(defaults, monkeypatch, capsys):
    monkeypatch.delenv("KS1BOT_RASA_TOKEN", raising=False)
    monkeypatch.delenv("KS1BOT_ACTIONS_TOKEN", raising=False)
    assert s.serve(defaults, role="console") == 2
    assert "KS1BOT_RASA_TOKEN and KS1BOT_ACTIONS_TOKEN" in capsys.readouterr().err
    assert s.serve(defaults, role="nonsense") == 2


def test_serve_settings(tmp_path):
    parsed = parse_settings({"serve": {"role": "mail", "workers": 3}, "redis_url": "redis://x"}, base_dir=tmp_path)
    assert (parsed.serve.role, parsed.serve.workers, parsed.redis_url) == ("mail", 3, "redis://x")
    for bad in ({"role": "web"}, {"workers": 0}, {"other": 1}):
        with pytest.raises(SettingsError):
            parse_settings({"serve": bad}, base_dir=tmp_path)


def test_metrics_render_in_the_prometheus_text_format():
    registry = metrics.Registry()
    registry.role = "actions"
    registry.record_message("chat", "answer", "update_question", 0.04)
    registry.record_message("chat", "answer", "update_question", 0.3)
    registry.gauge("ks1bot_handoffs_open", "open", lambda: metrics.by("channel", [("email", 3)]))
    registry.gauge("ks1bot_broken", "fails", lambda: 1 / 0)
    found = metrics.parse(registry.render())
    assert found['ks1bot_up{role="actions"}'] == 1
    assert found['ks1bot_messages_total{channel="chat",route="answer",topic="update_question"}'] == 2
    assert found['ks1bot_routing_seconds_bucket{channel="chat",le="0.05"}'] == 1
    assert found['ks1bot_routing_seconds_bucket{channel="chat",le="+Inf"}'] == 2
    assert found['ks1bot_handoffs_open{channel="email"}'] == 3
    assert found["ks1bot_metric_errors_total"] == 1


def test_metrics_need_the_token_or_a_loopback_client():
    from ks1bot.app.health import metrics_allowed

    assert metrics_allowed("127.0.0.1", {}, None, env={})
    assert not metrics_allowed("10.0.0.5", {}, None, env={})
    assert not metrics_allowed("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, None, env={})
    token = {"KS1BOT_METRICS_TOKEN": "m" * 40}
    assert not metrics_allowed("127.0.0.1", {}, None, env=token)
    assert metrics_allowed("10.0.0.5", {"Authorization": "Bearer " + "m" * 40}, None, env=token)
    assert metrics_allowed("10.0.0.5", {}, "m" * 40, env=token)
