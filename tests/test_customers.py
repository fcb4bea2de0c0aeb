from __future__ import annotations

import pytest

from ks1bot.core.customers import CustomerDirectory, CustomerFileError, normalize_phone, parse_customers

CSV = """customer_id,name,contract,contacts
C1,Meier Bau GmbH,support,@meier-bau.de;+4923112233
C2,Wolf Haustechnik,update,p.wolf@wolf-haustechnik.de
C3,Wolf Haustechnik Service,support,@wolf-haustechnik.de
C4,Alpen Handel,none,+43 662 123456
"""


@pytest.fixture
def directory():
    return CustomerDirectory(parse_customers(CSV))


def test_exact_address_wins_over_domain(directory):
    match = directory.match("p.wolf@wolf-haustechnik.de")
    assert (match.customer.customer_id, match.matched_by) == ("C2", "address")
    other = directory.match("info@wolf-haustechnik.de")
    assert (other.customer.customer_id, other.matched_by) == ("C3", "domain")


def test_domain_match_is_case_insensitive_and_reads_display_names(directory):
    match = directory.match("Hans Meier <H.Meier@Meier-Bau.DE>")
    assert match.customer.customer_id == "C1"
    assert match.matched_by == "domain"


def test_subdomain_is_not_the_domain(directory):
    assert directory.match("x@mail.meier-bau.de") is None


def test_phone_match_in_several_notations(directory):
    for number in ("+4923112233", "0049 231 12233", "0231/12233", "+49 (231) 12-233"):
        match = directory.match(number)
        assert match is not None, number
        assert (match.customer.customer_id, match.matched_by) == ("C1", "phone")
    assert directory.match("+43662123456").customer.customer_id == "C4"


def test_unknown_sender(directory):
    assert directory.match("someone@example.org") is None
    assert directory.match("+4915112345678") is None
    assert directory.match("") is None
    assert directory.match("not an address") is None


def test_normalize_phone():
    assert normalize_phone("+49 89 1234567") == "+49891234567"
    assert normalize_phone("+49 12") is None  # too short for a phone number
    assert normalize_phone("089 12345678") == "+498912345678"
    assert normalize_phone("hello") is None


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty"),
        ("id,name\nC1,X\n", "first line must be"),
        ("customer_id,name,contract,contacts\nC1,X,gold,@x.de\n", "contract 'gold'"),
        ("customer_id,name,contract,contacts\nC1,X,support\n", "has 3 fields"),
        ("customer_id,name,contract,contacts\nC1,X,support,@x.de\nC1,Y,support,@y.de\n", "repeats customer_id C1"),
        ("customer_id,name,contract,contacts\nC1,X,support,not-a-contact\n", "contact 'not-a-contact'"),
    ],
)
def test_malformed_files_name_the_problem(text, fragment):
    with pytest.raises(CustomerFileError) as info:
        parse_customers(text)
    assert fragment in str(info.value)


def test_unreadable_file(tmp_path):
    with pytest.raises(CustomerFileError, match="cannot be read"):
        CustomerDirectory.load(tmp_path / "missing.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CustomerFileError, match="not UTF-8"):
        CustomerDirectory.load(binary)


def test_the_eval_directory_loads(eval_customers):
    assert len(eval_customers) == 5
    assert eval_customers.match("+498912345678").customer.contract == "update"
