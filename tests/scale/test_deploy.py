"""deploy/: every command the systemd units and compose.yaml name exists (the product's
own argument parser accepts it), and one process of each role, started with the units'
own flags (ports moved to free ones, interfaces kept on loopback), gets ready against
PostgreSQL and Redis (/readyz). The nginx template renders for several Rasa processes and
nginx accepts it. compose.yaml is parsed, not run (no Docker here)."""
from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

from tests.conftest import EVAL_DIR, LIVE_SECRETS, ROOT
from tests.scale.conftest import wait_until
from tests.support.ports import free_port

pytestmark = pytest.mark.scale
DEPLOY = ROOT / "deploy"
ROLES = {"rasa", "actions", "console", "mail"}


def unit_commands() -> Dict[str, List[str]]:
    found = {}
    for path in sorted((DEPLOY / "systemd").glob("*.service")):
        unit = configparser.ConfigParser(interpolation=None, strict=False)
        unit.optionxform = str
        unit.read(path)
        found[path.name] = shlex.split(unit["Service"]["ExecStart"])
    return found


def compose_commands() -> Dict[str, List[str]]:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return {name: service["command"] for name, service in compose["services"].items()
            if str(service.get("image", "")).startswith("ks1bot") or "build" in service}


def role_of(argv: List[str]) -> str:
    return argv[argv.index("--role") + 1]


def test_the_deployment_files_run_every_role_with_the_role_commands():
    units, compose = unit_commands(), compose_commands()
    assert {role_of(a) for a in units.values()} == ROLES
    assert sorted(role_of(a) for a in compose.values()) == sorted(
        ["actions", "actions", "rasa", "rasa", "console", "mail", "mail"])
    services = set(yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"])
    assert {"postgres", "redis", "nginx"} <= services
    target = (DEPLOY / "systemd" / "ks1bot.target").read_text()
    assert all(name in target for name in units)


@pytest.mark.parametrize("source", ["systemd", "compose"])
def test_every_command_named_exists(source):
    from ks1bot.app.cli import build_parser

    commands = unit_commands() if source == "systemd" else compose_commands()
    for name, argv in commands.items():
        assert Path(argv[0]).name == "ks1bot", (name, argv)
        args = build_parser().parse_args(argv[1:])          # SystemExit on an unknown command or flag
        assert args.func.__name__ == "cmd_serve", name
    # and the installed command answers --help
    done = subprocess.run([str(Path(sys.executable).with_name("ks1bot")), "serve", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "--role" in done.stdout


def local(argv: List[str], settings_file: Path) -> List[str]:
    """A unit's command for this machine: our ks1bot, our settings, free ports, loopback."""
    args = [str(Path(sys.executable).with_name("ks1bot")), "--settings", str(settings_file)]
    rest = argv[argv.index("serve"):]
    out, skip = [], False
    for i, arg in enumerate(rest):
        if skip:
            skip = False
            continue
        if arg == "--workers":                 # one process of each role is enough here
            skip = True
            continue
        if arg in ("--rasa-port", "--actions-port", "--console-port"):
            out += [arg, str(free_port())]
            skip = True
            continue
        if arg in ("--smtp-listen", "--mail-http-listen"):
            out += [arg, f"127.0.0.1:{free_port()}"]
            skip = True
            continue
        out.append(arg)
    return args + out


def test_one_process_of_each_role_from_the_units_gets_ready(pg, redis_server, tmp_path, trained_model):
    settings_file = tmp_path / "settings.yml"
    settings_file.write_text(
        f"customers: {EVAL_DIR / 'customers.csv'}\nmodels_dir: {ROOT / 'models'}\n"
        f"knowledge_dir: {ROOT / 'data' / 'knowledge'}\ndata_dir: {tmp_path / 'var'}\n"
        "our_addresses: [support@ks1-support.example]\nmail:\n  warm_up: false\n")
    env = {**os.environ, **LIVE_SECRETS, "KS1BOT_DATABASE_URL": pg.database(), "KS1BOT_REDIS_URL": redis_server.url}
    env.pop("KS1BOT_ACTIONS_URL", None)
    by_role = {role_of(a): a for a in unit_commands().values()}
    order = ["actions", "rasa", "console", "mail"]
    processes = []
    try:
        actions_port = None
        for role in order:
            argv = local(by_role[role], settings_file)
            if role == "actions":
                actions_port = argv[argv.index("--actions-port") + 1]
            if role == "rasa":  # the unit pairs Rasa with its action servers; here the one started above
                argv += ["--actions-port", actions_port]
            log = tmp_path / f"{role}.log"
            process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
            processes.append(process)

            def up():
                assert process.poll() is None, log.read_text()[-3000:]
                return "KS1 bot is up" in log.read_text()
            wait_until(up, 600, 1, what=f"the {role} role")
            if role == "rasa":
                url = f"http://127.0.0.1:{argv[argv.index('--rasa-port') + 1]}/readyz"
            elif role == "actions":
                url = f"http://127.0.0.1:{actions_port}/readyz"
            elif role == "console":
                url = f"http://127.0.0.1:{argv[argv.index('--console-port') + 1]}/readyz"
            else:
                url = f"http://{argv[argv.index('--mail-http-listen') + 1]}/readyz"
            with urllib.request.urlopen(url, timeout=30) as response:
                assert response.status == 200, (role, response.read())
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(60)


def test_nginx_accepts_the_front_for_two_rasa_processes(tmp_path):
    from ks1bot.app.deploy_cli import render_nginx
    from tests.support.nginx import WRAPPER, nginx_binary

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout",
                    str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"), "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    text = render_nginx({"SERVER_NAME": "support.example.com", "CERT": str(tmp_path / "cert.pem"),
                         "KEY": str(tmp_path / "key.pem"), "LISTEN": f"127.0.0.1:{free_port()}",
                         "HTTP_LISTEN": f"127.0.0.1:{free_port()}", "RASA": "127.0.0.1:5005,127.0.0.1:5006",
                         "ACCESS_LOG": str(tmp_path / "access.log")})
    upstream = text.split("upstream ks1bot_rasa {", 1)[1].split("}", 1)[0]
    assert "server 127.0.0.1:5005;" in upstream and "server 127.0.0.1:5006;" in upstream
    assert "hash $binary_remote_addr consistent;" in upstream     # a widget stays with its socket.io process
    (tmp_path / "ks1bot.conf").write_text(text)
    (tmp_path / "tmp").mkdir()
    (tmp_path / "nginx.conf").write_text(WRAPPER.format(root=tmp_path))
    done = subprocess.run([nginx_binary(), "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
