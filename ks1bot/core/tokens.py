"""Who is talking: the signed tokens and signatures the public channels check. Pure
functions (the clock is a parameter); every comparison of secret material is constant-time.

- **Customer tokens** (KS1 web → chat widget / REST clients): a JWT, HS256, signed with
  KS1BOT_WIDGET_TOKEN_SECRET; claims `sub` (customer id of the directory), `name`,
  `email`, `aud` = "ks1bot", `iat`, `exp` (at most 24 hours after `iat`). The bot trusts
  a customer identity only from such a token.
- **Widget session credentials**: the bot issues them (never the browser): the
  conversation id, a short binding to the customer (or "anonymous") and an HMAC of both
  with KS1BOT_SESSION_SECRET. The conversation id alone gives nothing; the credential is
  its owner's, and only with the same customer identity.
- **Request signatures** (the phone system → /webhooks/call): HMAC-SHA256 over
  `timestamp + "." + body` with KS1BOT_CALL_SECRET, within a replay window.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

#: The audience every customer token must name.
AUDIENCE = "ks1bot"
#: Longest accepted token lifetime (`exp` - `iat`).
MAX_TOKEN_LIFETIME = 24 * 3600
#: Clock skew tolerated between KS1 web and the bot.
LEEWAY_SECONDS = 60
MAX_TOKEN_CHARS = 4096


class TokenError(Exception):
    """A token or signature is missing, malformed, wrong or stale; the message is one sentence."""


def matching_key(given: Optional[str], keys: Sequence[str]) -> Optional[int]:
    """Index of the key `given` equals (constant-time, every key compared), else None."""
    found: Optional[int] = None
    given_bytes = (given or "").encode("utf-8")
    for index, key in enumerate(keys):
        if hmac.compare_digest(given_bytes, key.encode("utf-8")) and given_bytes and found is None:
            found = index
    return found


def _mac(key: str, message: str) -> str:
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


# -- customer tokens (KS1 web) ----------------------------------------------------------
@dataclass(frozen=True)
class CustomerIdentity:
    """A customer vouched for by KS1 web's signature."""

    customer_id: str
    name: str = ""
    email: str = ""

    def binding(self) -> str:
        """What a widget session is bound to: this customer and user."""
        return f"customer:{self.customer_id}:{self.email.lower()}"

    def as_metadata(self) -> dict:
        return {"customer_id": self.customer_id, "name": self.name, "email": self.email}

    @classmethod
    def from_metadata(cls, value: object) -> Optional["CustomerIdentity"]:
        if not isinstance(value, Mapping) or not isinstance(value.get("customer_id"), str):
            return None
        return cls(value["customer_id"], str(value.get("name") or ""), str(value.get("email") or ""))


ANONYMOUS = "anonymous"


def make_customer_token(key: str, customer_id: str, now: float, *, name: str = "", email: str = "",
                        lifetime: int = 8 * 3600) -> str:
    """A token as KS1 web makes it (tests, `ks1bot widget-token`, the benchmark's client)."""
    import jwt

    claims = {"sub": customer_id, "name": name, "email": email, "aud": AUDIENCE, "iat": int(now),
              "exp": int(now) + lifetime}
    return jwt.encode(claims, key, algorithm="HS256")


def verify_customer_token(token: Optional[str], keys: Sequence[str], now: float) -> CustomerIdentity:
    """The identity in a valid token; raises TokenError saying why it is not valid."""
    import jwt

    if not keys:
        raise TokenError("customer tokens are not accepted here: the bot has no KS1BOT_WIDGET_TOKEN_SECRET.")
    if not isinstance(token, str) or not token.strip():
        raise TokenError("the customer token is missing.")
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise TokenError("the customer token is not a JWT (three dot-separated parts).")
    claims = None
    for key in keys:
        try:
            claims = jwt.decode(token.strip(), key, algorithms=["HS256"], audience=AUDIENCE,
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                         "require": ["sub", "exp", "iat", "aud"]})
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.MissingRequiredClaimError as exc:
            raise TokenError(f"the customer token lacks the claim {exc.claim!r}.") from None
        except jwt.InvalidAudienceError:
            raise TokenError(f"the customer token's audience (aud) must be {AUDIENCE!r}.") from None
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"the customer token cannot be read ({exc}).") from None
    if claims is None:
        raise TokenError("the customer token's signature is wrong (not signed with the shared secret).")
    try:
        issued, expires = float(claims["iat"]), float(claims["exp"])
    except (TypeError, ValueError):
        raise TokenError("the customer token's iat and exp must be numbers (seconds since 1970).") from None
    if expires <= now - LEEWAY_SECONDS:
        raise TokenError("the customer token has expired; KS1 web must hand the widget a fresh one.")
    if issued > now + LEEWAY_SECONDS:
        raise TokenError("the customer token was issued in the future; check the clocks of KS1 web and the bot.")
    if expires - issued > MAX_TOKEN_LIFETIME:
        raise TokenError("the customer token lives longer than 24 hours; issue shorter-lived tokens.")
    customer_id = claims["sub"]
    if not isinstance(customer_id, str) or not customer_id.strip() or len(customer_id) > 64:
        raise TokenError("the customer token's sub must be the customer id (a string of at most 64 characters).")
    name, email = claims.get("name") or "", claims.get("email") or ""
    if not isinstance(name, str) or not isinstance(email, str) or len(name) > 200 or len(email) > 320:
        raise TokenError("the customer token's name and email must be strings.")
    return CustomerIdentity(customer_id.strip(), name.strip(), email.strip())


# -- widget session credentials ---------------------------------------------------------
_CONVERSATION = re.compile(r"^w[0-9a-f]{32}$")
_BIND_CHARS = 16
_MAC_CHARS = 32


def _binding_tag(key: str, binding: str) -> str:
    return _mac(key, "widget-binding|" + binding)[:_BIND_CHARS]


def _session_mac(key: str, conversation_id: str, tag: str) -> str:
    return _mac(key, f"widget-session|{conversation_id}|{tag}")[:_MAC_CHARS]


def new_conversation_id() -> str:
    return "w" + uuid.uuid4().hex


def issue_session(keys: Sequence[str], identity: Optional[CustomerIdentity],
                  new_id: Callable[[], str] = new_conversation_id) -> str:
    """A fresh session credential `<conversation id>.<binding tag>.<mac>` (signed with the current key)."""
    if not keys:
        raise TokenError("widget sessions need KS1BOT_SESSION_SECRET.")
    key = keys[0]
    conversation_id = new_id()
    tag = _binding_tag(key, identity.binding() if identity else ANONYMOUS)
    return f"{conversation_id}.{tag}.{_session_mac(key, conversation_id, tag)}"


def session_conversation(credential: object, keys: Sequence[str], identity: Optional[CustomerIdentity] = None,
                         check_identity: bool = True) -> Optional[str]:
    """The conversation id of a credential the bot issued, else None. With
    `check_identity`, it must also have been issued to `identity` (None: anonymous)."""
    if not isinstance(credential, str) or len(credential) > 128:
        return None
    parts = credential.split(".")
    if len(parts) != 3 or not _CONVERSATION.match(parts[0]):
        return None
    conversation_id, tag, mac = parts
    ok = False
    for key in keys:  # every key is tried: the time does not tell which one matched
        mac_ok = hmac.compare_digest(mac.encode(), _session_mac(key, conversation_id, tag).encode())
        tag_ok = (not check_identity) or hmac.compare_digest(
            tag.encode(), _binding_tag(key, identity.binding() if identity else ANONYMOUS).encode())
        ok = ok or (mac_ok and tag_ok)
    return conversation_id if ok else None


# -- request signatures (the phone system) ------------------------------------------------
SIGNATURE_PREFIX = "sha256="


def sign_request(key: str, timestamp: str, body: bytes) -> str:
    """The X-KS1-Signature header value for a request body sent at `timestamp`."""
    mac = hmac.new(key.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + mac


def verify_request(keys: Sequence[str], timestamp: Optional[str], signature: Optional[str], body: bytes,
                   now: float, window: float) -> str:
    """The signature's hex digest (the replay key) of a correctly signed, fresh request;
    raises TokenError saying what is wrong."""
    if not keys:
        raise TokenError("the phone webhook has no secret yet: set KS1BOT_CALL_SECRET for the bot and the phone system.")
    if not timestamp or not signature:
        raise TokenError("the request is not signed; send X-KS1-Timestamp and X-KS1-Signature (see README, Phone calls).")
    if not re.fullmatch(r"\d{9,12}", timestamp.strip()):
        raise TokenError("X-KS1-Timestamp must be the Unix time in whole seconds.")
    if abs(now - int(timestamp.strip())) > window:
        raise TokenError(f"X-KS1-Timestamp is more than {int(window)} seconds away from the bot's clock; "
                         "sign every request when it is sent (and keep the clocks in sync).")
    given = signature.strip()
    if given.lower().startswith(SIGNATURE_PREFIX):
        given = given[len(SIGNATURE_PREFIX):]
    given = given.lower()
    ok = False
    for key in keys:
        expected = sign_request(key, timestamp.strip(), body)[len(SIGNATURE_PREFIX):]
        ok = hmac.compare_digest(given.encode(), expected.encode()) or ok
    if not ok:
        raise TokenError("X-KS1-Signature is wrong: it must be sha256= and the HMAC-SHA256 of "
                         "timestamp + \".\" + body with the shared secret.")
    return given
