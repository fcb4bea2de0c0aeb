from __future__ import annotations

import datetime as dt

import pytest

from ks1bot.core.settings import SettingsError, load_settings, parse_settings


def test_repository_settings_file_loads(settings):
    assert settings.support_hours.opens == dt.time(8, 30)
    assert settings.support_hours.closes == dt.time(16, 30)
    assert settings.support_hours.extra_closed_days == ("12-24", "12-31")
    assert settings.self_service == "support_hours"
    assert settings.customers.name == "customers.sample.csv"
    assert settings.customers.is_file()


def test_defaults_when_keys_are_missing(tmp_path):
    s = parse_settings({}, base_dir=tmp_path)
    assert s.support_hours.days == (0, 1, 2, 3, 4)
    assert s.support_hours.federal_state is None
    assert 0 < s.thresholds.exclude <= 1 and 0 < s.thresholds.classify <= 1 and 0 < s.thresholds.knowledge <= 1


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ({"self_service": "sometimes"}, "self_service"),
        ({"support_hours": {"opens": "8.30"}}, "HH:MM"),
        ({"support_hours": {"federal_state": "XX"}}, "federal_state"),
        ({"support_hours": {"days": ["monday", "funday"]}}, "funday"),
        ({"support_hours": {"extra_closed_days": ["24.12."]}}, "MM-DD"),
        ({"support_hours": {"timezone": "Mars/Olympus"}}, "time zone"),
        ({"thresholds": {"exclude": 3}}, "between 0 and 1"),
        ({"colour": "blue"}, "Unknown setting colour"),
    ],
)
def test_bad_settings_are_explained(tmp_path, raw, fragment):
    with pytest.raises(SettingsError, match=fragment):
        parse_settings(raw, base_dir=tmp_path)


def test_missing_explicit_file(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.yml")


def test_relative_paths_are_relative_to_the_file(tmp_path):
    (tmp_path / "s.yml").write_text("customers: dir/c.csv\nself_service: always\n")
    s = load_settings(tmp_path / "s.yml")
    assert s.customers == (tmp_path / "dir" / "c.csv").resolve()
    assert s.self_service == "always"
