"""The bot's secrets, from the environment only (never from settings.yml or the command
line, where `ps` and the shell history would show them). docs/security.md lists them
with their rotation.

Shared secrets come in pairs: the current one signs, and during a rotation the previous
one is still accepted (`…_PREVIOUS`), so the other side can switch at its own pace.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Tuple

#: Rasa's HTTP API (`--auth-token`): the action server's parses, `ks1bot serve`'s warm-up,
#: the console's recovery of missed answers. `ks1bot serve` generates one when unset.
RASA_TOKEN = "KS1BOT_RASA_TOKEN"
#: The action server's shared secret (Rasa sends it as `?token=` from endpoints.yml).
#: `ks1bot serve` generates one when unset.
ACTIONS_TOKEN = "KS1BOT_ACTIONS_TOKEN"
#: Signs the customer tokens KS1 web hands the chat widget (JWT HS256), shared with KS1 web.
WIDGET_TOKEN_SECRET = "KS1BOT_WIDGET_TOKEN_SECRET"
#: Binds widget session ids to their owner; known only to the bot. `ks1bot serve`
#: generates one when unset and keeps it in the data directory (sessions survive a restart).
SESSION_SECRET = "KS1BOT_SESSION_SECRET"
#: Signs the phone system's requests to /webhooks/call (HMAC-SHA256), shared with it.
CALL_SECRET = "KS1BOT_CALL_SECRET"
#: The REST webhook's API key(s) for server-to-server clients (`Authorization: Bearer`).
REST_API_KEY = "KS1BOT_REST_API_KEY"

PREVIOUS = "_PREVIOUS"
#: Shorter shared secrets are refused: an HMAC key needs real entropy.
MIN_SECRET_CHARS = 32


class SecretsError(Exception):
    """A secret in the environment cannot be used; the message says how to fix it."""


@dataclass(frozen=True)
class Secrets:
    rasa_token: str = ""
    actions_token: str = ""
    #: (current, previous): every key that is accepted, the first one signs.
    widget_token_keys: Tuple[str, ...] = ()
    session_keys: Tuple[str, ...] = ()
    call_keys: Tuple[str, ...] = ()
    rest_api_keys: Tuple[str, ...] = ()

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> "Secrets":
        return cls(
            rasa_token=_single(env, RASA_TOKEN),
            actions_token=_single(env, ACTIONS_TOKEN),
            widget_token_keys=_pair(env, WIDGET_TOKEN_SECRET),
            session_keys=_pair(env, SESSION_SECRET),
            call_keys=_pair(env, CALL_SECRET),
            rest_api_keys=_pair(env, REST_API_KEY),
        )


def _checked(name: str, value: str) -> str:
    value = value.strip()
    if value and len(value) < MIN_SECRET_CHARS:
        raise SecretsError(f"{name} has {len(value)} characters; use at least {MIN_SECRET_CHARS} random ones "
                           f"(e.g. `openssl rand -hex 32`).")
    return value


def _single(env: Mapping[str, str], name: str) -> str:
    return _checked(name, env.get(name, ""))


def _pair(env: Mapping[str, str], name: str) -> Tuple[str, ...]:
    current = _checked(name, env.get(name, ""))
    previous = _checked(name + PREVIOUS, env.get(name + PREVIOUS, ""))
    if previous and not current:
        raise SecretsError(f"{name}{PREVIOUS} is set but {name} is not; set the new secret in {name}.")
    return tuple(v for v in (current, previous) if v)
