"""`ks1bot deploy nginx …`: the production front's nginx configuration from the template
deploy/nginx/ks1bot.conf (docs/security.md, "Production front"). The tests render it the
same way and start Debian's nginx with it in front of the real servers."""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, Mapping, Optional

from ks1bot.core.settings import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "deploy" / "nginx" / "ks1bot.conf"
#: The headers of every forwarded request (the bot believes X-Forwarded-* from its
#: trusted proxy only; nginx sets them afresh, so a client cannot add addresses).
PROXY_HEADERS = (
    "proxy_http_version 1.1;",
    "proxy_set_header Host $host;",
    "proxy_set_header X-Forwarded-For $remote_addr;",
    "proxy_set_header X-Forwarded-Proto https;",
    "proxy_set_header Upgrade $http_upgrade;",
    "proxy_set_header Connection $ks1bot_connection_header;",
)
DEFAULTS: Dict[str, str] = {
    "LISTEN": "443",
    "HTTP_LISTEN": "80",
    "RASA": "127.0.0.1:5005",
    "CONSOLE": "127.0.0.1:8000",
    "ACCESS_LOG": "/var/log/nginx/ks1bot.access.log",
    # per client address
    "MESSAGE_RATE": "5r/s",
    "MESSAGE_BURST": "20",
    "SOCKET_RATE": "20r/s",
    "SOCKET_BURST": "60",
    "FILE_RATE": "10r/s",
    "FILE_BURST": "40",
    "CONNECTIONS_PER_CLIENT": "50",
}
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")


def render_nginx(values: Mapping[str, str], template: Path = TEMPLATE) -> str:
    """The template with every {{NAME}} filled in (comment lines are left as they are);
    raises ValueError naming a value that is missing."""
    merged = {**DEFAULTS, **{k: str(v) for k, v in values.items() if v is not None}}
    lines = []
    for line in template.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#"):
            lines.append(line)
            continue
        indent = line[:len(line) - len(line.lstrip())]
        if line.strip() == "{{PROXY_HEADERS}}":
            lines += [indent + header for header in PROXY_HEADERS]
            continue
        missing = [name for name in _PLACEHOLDER.findall(line) if name not in merged]
        if missing:
            raise ValueError(f"the nginx template needs {', '.join(missing)}")
        upstream = re.fullmatch(r"server \{\{([A-Z_]+)\}\};", line.strip())
        if upstream:  # HOST:PORT,HOST:PORT: one server line each (several processes of a role)
            lines += [f"{indent}server {one.strip()};" for one in merged[upstream.group(1)].split(",") if one.strip()]
            continue
        lines.append(_PLACEHOLDER.sub(lambda m: merged[m.group(1)], line))
    return "\n".join(lines) + "\n"


def cmd_deploy_nginx(args: argparse.Namespace) -> int:
    values = {"SERVER_NAME": args.server_name, "CERT": args.cert, "KEY": args.key, "LISTEN": args.listen,
              "HTTP_LISTEN": args.http_listen, "RASA": args.rasa, "CONSOLE": args.console,
              "ACCESS_LOG": args.access_log}
    try:
        text = render_nginx(values)
    except ValueError as exc:
        print(f"ks1bot deploy nginx: {exc}.", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Wrote {args.output}; check it with `nginx -t` and reload nginx.", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def register(sub) -> None:
    deploy = sub.add_parser("deploy", help="configuration for the production front")
    deploy_sub = deploy.add_subparsers(dest="deploy_command", required=True)
    nginx = deploy_sub.add_parser("nginx", help="nginx in front of the bot: TLS, public paths only, limits")
    nginx.add_argument("--server-name", required=True, help="the public host name, e.g. support.example.com")
    nginx.add_argument("--cert", required=True, help="TLS certificate chain (PEM)")
    nginx.add_argument("--key", required=True, help="its private key (PEM)")
    nginx.add_argument("--listen", help=f"HTTPS listen address/port (default {DEFAULTS['LISTEN']})")
    nginx.add_argument("--http-listen", help=f"plain HTTP, redirected to HTTPS (default {DEFAULTS['HTTP_LISTEN']})")
    nginx.add_argument("--rasa", help=f"the Rasa server(s), HOST:PORT[,HOST:PORT…] (default {DEFAULTS['RASA']})")
    nginx.add_argument("--console", help=f"the console(s) with the widget files, HOST:PORT[,…] "
                                         f"(default {DEFAULTS['CONSOLE']})")
    nginx.add_argument("--access-log", help=f"(default {DEFAULTS['ACCESS_LOG']})")
    nginx.add_argument("--output", help="write here instead of standard output")
    nginx.set_defaults(func=cmd_deploy_nginx)

