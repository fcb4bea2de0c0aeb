"""Staff accounts (argon2 hashes), server-side sessions with CSRF tokens, login lockouts.

A login costs the same whether the name exists or not (an unknown name is checked
against a dummy hash), so the time does not tell which staff names exist. Failed logins
lock out per client address (any names: one address guessing) and per account (any
addresses: guessing spread over many); the account limit is the higher one, so a single
address is stopped before it can lock a colleague out. The client address is the one the
console's trusted proxy reports (console.app), never a header anyone can send."""
from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select

from console.models import LoginAttempt, StaffSession, StaffUser
from ks1bot.conversations.db import session_factory, utc
from ks1bot.core import logs

log = logging.getLogger("console.auth")
_hasher = PasswordHasher()
NAME = re.compile(r"^[A-Za-z0-9._@-]{2,80}$")
_dummy_hash: Optional[str] = None


def dummy_hash() -> str:
    """An argon2 hash of a random password, with the same parameters as real ones."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(24))
    return _dummy_hash


class AuthError(Exception):
    """A staff-account problem the user can fix; the message says how."""


ROLES = ("agent", "lead")
LANGUAGES = ("de", "en")


@dataclass(frozen=True)
class Staff:
    id: int
    name: str
    role: str = "agent"
    language: str = "de"

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


@dataclass(frozen=True)
class LoginPolicy:
    #: Failed logins from one client address (any names) within the window.
    max_failures: int = 5
    window: dt.timedelta = dt.timedelta(minutes=15)
    session_lifetime: dt.timedelta = dt.timedelta(hours=10)
    #: Failed logins for one account (from any addresses) within the window.
    account_max_failures: int = 20


def is_locked_out(client_failures: int, policy: LoginPolicy, account_failures: int = 0) -> bool:
    """Pure rule: too many failed logins from this address, or for this account, in the window."""
    return client_failures >= policy.max_failures or account_failures >= policy.account_max_failures


def client_key(client: str) -> str:
    return f"client:{client}"


def account_key(name: str) -> str:
    return f"account:{(name or '').strip().lower()}"


def tokens_match(expected: Optional[str], given: Optional[str]) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


class Auth:
    def __init__(self, engine, policy: LoginPolicy = LoginPolicy(),
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> None:
        self.Session = session_factory(engine)
        self.policy = policy
        self.clock = clock
        dummy_hash()  # made now, not during the first login with an unknown name

    # -- accounts -------------------------------------------------------------------------
    def add_staff(self, name: str, password: str, role: Optional[str] = None) -> Staff:
        """Add an account (role agent unless given) or set a new password (and the role, if given)."""
        if not NAME.match(name or ""):
            raise AuthError("A staff name has 2 to 80 letters, digits or . _ @ - and no spaces.")
        if role is not None and role not in ROLES:
            raise AuthError("A role is agent or lead.")
        if len(password or "") < 10:
            raise AuthError("The password needs at least 10 characters.")
        with self.Session.begin() as session:
            row = session.execute(select(StaffUser).where(StaffUser.name == name)).scalar()
            if row is None:
                row = StaffUser(name=name, password_hash=_hasher.hash(password), created_at=self.clock(),
                                role=role or "agent", language="de")
                session.add(row)
                action = "staff_added"
            else:
                row.password_hash = _hasher.hash(password)
                if role is not None:
                    row.role = role
                action = "staff_password_changed"
            session.flush()
            staff = Staff(row.id, row.name, row.role, row.language)
        logs.event(log, action, staff=name)
        return staff

    def set_role(self, name: str, role: str) -> None:
        if role not in ROLES:
            raise AuthError("A role is agent or lead.")
        with self.Session.begin() as session:
            row = session.execute(select(StaffUser).where(StaffUser.name == name)).scalar()
            if row is None:
                raise AuthError(f"There is no staff account {name}; add it with `ks1bot staff add {name}`.")
            row.role = role
        logs.event(log, "staff_role_changed", staff=name, role=role)

    def set_language(self, staff_id: int, language: str) -> None:
        if language not in LANGUAGES:
            raise AuthError("A language is de or en.")
        with self.Session.begin() as session:
            row = session.get(StaffUser, staff_id)
            if row is not None:
                row.language = language

    def roles(self) -> "dict[str, str]":
        with self.Session() as session:
            return {n: r for n, r in session.execute(select(StaffUser.name, StaffUser.role).order_by(StaffUser.name))}

    def list_staff(self) -> Sequence[str]:
        with self.Session() as session:
            return list(session.execute(select(StaffUser.name).order_by(StaffUser.name)).scalars())

    # -- login ----------------------------------------------------------------------------
    def failures(self, key: str) -> int:
        since = self.clock() - self.policy.window
        with self.Session() as session:
            return session.execute(
                select(func.count(LoginAttempt.id)).where(
                    LoginAttempt.key == key, LoginAttempt.succeeded == 0, LoginAttempt.at >= since)
            ).scalar() or 0

    def login(self, name: str, password: str, client: str) -> "tuple[Optional[str], str]":
        """(session token, '') on success, (None, reason) otherwise. `client` is the
        client's address (behind a trusted proxy: the address it reports)."""
        name = (name or "")[:200]
        keys = (client_key(client), account_key(name))
        if is_locked_out(self.failures(keys[0]), self.policy, self.failures(keys[1])):
            logs.event(log, "login_locked_out", logging.WARNING, staff=name, client=client)
            minutes = int(self.policy.window.total_seconds() // 60)
            return None, f"Too many failed logins; wait {minutes} minutes and try again."
        with self.Session.begin() as session:
            row = session.execute(select(StaffUser).where(StaffUser.name == name)).scalar()
            ok = False
            try:  # an unknown name costs the same argon2 check as a known one
                ok = _hasher.verify(row.password_hash if row is not None else dummy_hash(), password or "")
            except (VerificationError, InvalidHashError):
                ok = False
            ok = ok and row is not None
            for key in keys:
                session.add(LoginAttempt(key=key, succeeded=int(ok), at=self.clock()))
            if not ok:
                logs.event(log, "login_failed", logging.WARNING, staff=name, client=client)
                return None, "Wrong name or password."
            token = secrets.token_urlsafe(32)
            session.add(StaffSession(id=token, staff_id=row.id, csrf_token=secrets.token_urlsafe(32),
                                     created_at=self.clock(), expires_at=self.clock() + self.policy.session_lifetime))
        logs.event(log, "login", staff=name, client=client)
        return token, ""

    def session(self, token: Optional[str]) -> "Optional[tuple[Staff, str]]":
        """(staff, csrf token) of a valid session, else None."""
        if not token:
            return None
        with self.Session() as session:
            row = session.get(StaffSession, token)
            if row is None or utc(row.expires_at) <= self.clock():
                return None
            return Staff(row.staff.id, row.staff.name, row.staff.role, row.staff.language), row.csrf_token

    def logout(self, token: Optional[str]) -> None:
        if token:
            with self.Session.begin() as session:
                session.execute(delete(StaffSession).where(StaffSession.id == token))
