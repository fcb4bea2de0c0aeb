"""ks1bot.core.tokens, secrets and limits: customer tokens, widget session credentials,
signed phone requests, rotation, rate limits, replays and the client behind a proxy —
table-style, with the clock as a parameter."""
from __future__ import annotations

import time

import pytest

from ks1bot.core.limits import Rate, RateLimiter, ReplayCache, client_address, forwarded_https, parse_networks
from ks1bot.core.secrets import Secrets, SecretsError
from ks1bot.core.tokens import (CustomerIdentity, TokenError, issue_session, make_customer_token, matching_key,
                                session_conversation, sign_request, verify_customer_token, verify_request)

NOW = 1_800_000_000.0
KEY, OLD, OTHER = "k" * 40, "o" * 40, "x" * 40


# -- customer tokens ------------------------------------------------------------------------
def test_a_valid_token_names_the_customer():
    token = make_customer_token(KEY, "C1001", NOW, name="Hans Meier", email="h.meier@meier-bau.de")
    assert verify_customer_token(token, (KEY,), NOW + 60) == CustomerIdentity("C1001", "Hans Meier",
                                                                             "h.meier@meier-bau.de")


def test_the_previous_secret_is_accepted_during_a_rotation():
    token = make_customer_token(OLD, "C1001", NOW)
    assert verify_customer_token(token, (KEY, OLD), NOW).customer_id == "C1001"
    with pytest.raises(TokenError, match="signature"):
        verify_customer_token(token, (KEY,), NOW)


def _forged(claims, key=KEY, algorithm="HS256"):
    import jwt

    return jwt.encode(claims, key, algorithm=algorithm)


@pytest.mark.parametrize("token, words", [
    (None, "missing"),
    ("", "missing"),
    ("abc", "not a JWT"),
    ("a.b.c", "cannot be read"),
    (make_customer_token(OTHER, "C1001", NOW), "signature"),
    (make_customer_token(KEY, "C1001", NOW - 7200, lifetime=3600), "expired"),
    (make_customer_token(KEY, "C1001", NOW + 3600), "future"),
    (make_customer_token(KEY, "C1001", NOW, lifetime=3 * 24 * 3600), "24 hours"),
    (_forged({"sub": "C1001", "aud": "ks1bot", "iat": int(NOW)}), "exp"),
    (_forged({"sub": "C1001", "aud": "other", "iat": int(NOW), "exp": int(NOW) + 60}), "audience"),
    (_forged({"sub": 5, "aud": "ks1bot", "iat": int(NOW), "exp": int(NOW) + 60}), "sub"),
    (_forged({"sub": "C1001", "aud": "ks1bot", "iat": int(NOW), "exp": int(NOW) + 60}, key=KEY * 2,
             algorithm="HS512"), "cannot be read"),
])
def test_invalid_tokens_are_refused_with_a_reason(token, words):
    with pytest.raises(TokenError) as refused:
        verify_customer_token(token, (KEY,), NOW)
    assert words.lower() in str(refused.value).lower()


def test_an_unsigned_token_is_refused():
    import base64
    import json

    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': 'C1001', 'aud': 'ks1bot', 'iat': NOW, 'exp': NOW + 60})}."
    with pytest.raises(TokenError):
        verify_customer_token(token, (KEY,), NOW)


def test_without_a_secret_no_token_is_accepted():
    with pytest.raises(TokenError, match="KS1BOT_WIDGET_TOKEN_SECRET"):
        verify_customer_token(make_customer_token(KEY, "C1001", NOW), (), NOW)


# -- widget session credentials ----------------------------------------------------------------
MEIER = CustomerIdentity("C1001", "Hans Meier", "h.meier@meier-bau.de")


def test_a_session_belongs_to_whom_it_was_issued():
    credential = issue_session((KEY,), MEIER)
    conversation = credential.split(".")[0]
    assert conversation.startswith("w") and len(conversation) == 33
    assert session_conversation(credential, (KEY,), MEIER) == conversation
    assert session_conversation(credential, (KEY,), CustomerIdentity("C1001", email="H.Meier@meier-bau.de")) \
        == conversation  # the e-mail address is compared case-insensitively
    assert session_conversation(credential, (KEY,), None) is None  # anonymous: not his
    assert session_conversation(credential, (KEY,), CustomerIdentity("C1002", email="h.meier@meier-bau.de")) is None
    assert session_conversation(credential, (KEY,), check_identity=False) == conversation  # /widget/missed


def test_anonymous_sessions_and_forged_or_foreign_credentials():
    anonymous = issue_session((KEY,), None)
    assert session_conversation(anonymous, (KEY,), None) == anonymous.split(".")[0]
    assert session_conversation(anonymous, (KEY,), MEIER) is None
    conversation, tag, mac = anonymous.split(".")
    for forged in (conversation, f"{conversation}.{tag}", f"{conversation}.{tag}.{'0' * 32}",
                   f"w{'1' * 32}.{tag}.{mac}", issue_session((OTHER,), None), "", None, 5, "x" * 500):
        assert session_conversation(forged, (KEY,), None) is None, forged


def test_session_secret_rotation_keeps_sessions():
    credential = issue_session((OLD,), MEIER)
    assert session_conversation(credential, (KEY, OLD), MEIER) == credential.split(".")[0]
    assert session_conversation(credential, (KEY,), MEIER) is None


# -- signed phone requests ---------------------------------------------------------------------
BODY = b'{"call_id": "c-1", "caller": "+4923112233", "transcript": "hallo"}'


def test_a_signed_request_within_the_window_is_accepted():
    stamp = str(int(NOW))
    signature = sign_request(KEY, stamp, BODY)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_request((KEY,), stamp, signature, BODY, NOW + 299, 300) == signature[7:]
    assert verify_request((KEY,), stamp, signature[7:].upper(), BODY, NOW, 300)  # bare hex too
    assert verify_request((KEY, OLD), stamp, sign_request(OLD, stamp, BODY), BODY, NOW, 300)  # rotation


@pytest.mark.parametrize("stamp, signature, body, words", [
    (None, "sha256=00", BODY, "not signed"),
    (str(int(NOW)), None, BODY, "not signed"),
    ("yesterday", "sha256=00", BODY, "Unix time"),
    (str(int(NOW) - 301), sign_request(KEY, str(int(NOW) - 301), BODY), BODY, "300 seconds"),
    (str(int(NOW) + 301), sign_request(KEY, str(int(NOW) + 301), BODY), BODY, "300 seconds"),
    (str(int(NOW)), sign_request(OTHER, str(int(NOW)), BODY), BODY, "wrong"),
    (str(int(NOW)), sign_request(KEY, str(int(NOW)), BODY), BODY + b" ", "wrong"),
    (str(int(NOW)), sign_request(KEY, str(int(NOW) - 1), BODY), BODY, "wrong"),
])
def test_unsigned_stale_and_wrong_requests_are_refused(stamp, signature, body, words):
    with pytest.raises(TokenError) as refused:
        verify_request((KEY,), stamp, signature, body, NOW, 300)
    assert words in str(refused.value)


def test_a_replayed_signature_is_refused_within_the_window():
    clock = [NOW]
    cache = ReplayCache(300, clock=lambda: clock[0])
    assert cache.first_time("abc") and not cache.first_time("abc")
    assert cache.first_time("def")
    clock[0] += 700  # after twice the window it is forgotten (its timestamp is stale by then anyway)
    assert cache.first_time("abc")


# -- secrets and keys -------------------------------------------------------------------------
def test_secrets_come_in_pairs_and_must_be_long_enough():
    secrets = Secrets.from_environment({"KS1BOT_CALL_SECRET": KEY, "KS1BOT_CALL_SECRET_PREVIOUS": OLD,
                                        "KS1BOT_REST_API_KEY": KEY})
    assert secrets.call_keys == (KEY, OLD) and secrets.rest_api_keys == (KEY,) and secrets.widget_token_keys == ()
    with pytest.raises(SecretsError, match="at least 32"):
        Secrets.from_environment({"KS1BOT_CALL_SECRET": "short"})
    with pytest.raises(SecretsError, match="KS1BOT_REST_API_KEY"):
        Secrets.from_environment({"KS1BOT_REST_API_KEY_PREVIOUS": OLD})


def test_matching_key_compares_every_key():
    assert matching_key(KEY, (KEY, OLD)) == 0 and matching_key(OLD, (KEY, OLD)) == 1
    assert matching_key("nope", (KEY, OLD)) is None and matching_key("", ("",)) is None
    assert matching_key(None, (KEY,)) is None


# -- rate limits and client addresses ----------------------------------------------------------
def test_a_bucket_allows_the_burst_then_the_rate():
    clock = [0.0]
    limiter = RateLimiter(Rate(per_minute=30, burst=3), clock=lambda: clock[0])
    assert [limiter.hit("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.hit("a")
    assert 1.9 < wait <= 2.0  # one message per 2 s
    assert limiter.hit("b") == 0.0  # another key has its own bucket
    clock[0] += 2.0
    assert limiter.hit("a") == 0.0


def test_the_limiter_keeps_a_bounded_number_of_keys():
    limiter = RateLimiter(Rate(60, 1), clock=time.monotonic, max_keys=100)
    for n in range(1000):
        limiter.hit(str(n))
    assert len(limiter._buckets) == 100


PROXIES = parse_networks(["127.0.0.1", "10.0.0.0/8"])


@pytest.mark.parametrize("peer, header, expected", [
    ("198.51.100.7", None, "198.51.100.7"),
    ("198.51.100.7", "1.2.3.4", "198.51.100.7"),             # not a proxy: its header is ignored
    ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
    ("127.0.0.1", "1.2.3.4, 203.0.113.9", "203.0.113.9"),    # the nearest hop, not what the client wrote
    ("127.0.0.1", "203.0.113.9, 10.1.2.3", "203.0.113.9"),   # through two of our proxies
    ("127.0.0.1", "garbage", "127.0.0.1"),
    ("127.0.0.1", None, "127.0.0.1"),
    ("::ffff:127.0.0.1", "203.0.113.9", "203.0.113.9"),
])
def test_the_client_address_behind_a_trusted_proxy(peer, header, expected):
    assert client_address(peer, header, PROXIES) == expected


def test_https_is_believed_from_a_trusted_proxy_only():
    assert forwarded_https("127.0.0.1", "https", PROXIES)
    assert not forwarded_https("198.51.100.7", "https", PROXIES)
    assert not forwarded_https("127.0.0.1", "http", PROXIES)
