"""The customer directory (SPEC §7): who is entitled to which support."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

CONTRACTS = ("support", "update", "none")
HEADER = ("customer_id", "name", "contract", "contacts")


class CustomerFileError(Exception):
    """The customer directory cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    contract: str
    contacts: Tuple[str, ...]


@dataclass(frozen=True)
class Match:
    customer: Customer
    #: How the sender matched: "id" (verified customer token), "address", "domain" or "phone".
    matched_by: str


_PHONE_CHARS = re.compile(r"[\s\-/().]")


def normalize_phone(value: str, default_country: str = "+49") -> Optional[str]:
    """E.164 form of a phone number, or None when it is not one.

    Accepts +49…, 0049… and national 0… numbers (taken as `default_country`).
    """
    number = _PHONE_CHARS.sub("", value.strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    elif number.startswith("0"):
        number = default_country + number[1:]
    if re.fullmatch(r"\+\d{6,15}", number):
        return number
    return None


def normalize_address(value: str) -> Optional[str]:
    """Lower-case bare email address (from 'Name <a@b>' too), or None."""
    text = value.strip()
    match = re.search(r"<([^<>@\s]+@[^<>\s]+)>", text)
    if match:
        text = match.group(1)
    text = text.strip().lower()
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        return text
    return None


class CustomerDirectory:
    """Customers by email address, @domain and phone number."""

    def __init__(self, customers: Iterable[Customer]) -> None:
        self.customers: List[Customer] = list(customers)
        self._by_address: Dict[str, Customer] = {}
        self._by_domain: Dict[str, Customer] = {}
        self._by_phone: Dict[str, Customer] = {}
        self._by_id: Dict[str, Customer] = {}
        for customer in self.customers:
            self._by_id.setdefault(customer.customer_id, customer)
            for contact in customer.contacts:
                if contact.startswith("@"):
                    self._by_domain.setdefault(contact[1:], customer)
                elif "@" in contact:
                    self._by_address.setdefault(contact, customer)
                else:
                    self._by_phone.setdefault(contact, customer)

    def __len__(self) -> int:
        return len(self.customers)

    def by_id(self, customer_id: Optional[str]) -> Optional[Match]:
        """The customer with this id (from a verified customer token)."""
        customer = self._by_id.get(customer_id or "")
        return Match(customer, "id") if customer else None

    def match(self, sender: Optional[str]) -> Optional[Match]:
        """Exact address first, then the address's domain, then phone number."""
        if not sender:
            return None
        address = normalize_address(sender)
        if address:
            if address in self._by_address:
                return Match(self._by_address[address], "address")
            domain = address.rsplit("@", 1)[1]
            if domain in self._by_domain:
                return Match(self._by_domain[domain], "domain")
            return None
        phone = normalize_phone(sender)
        if phone and phone in self._by_phone:
            return Match(self._by_phone[phone], "phone")
        return None

    # -- loading ------------------------------------------------------------------
    @classmethod
    def empty(cls) -> "CustomerDirectory":
        return cls([])

    @classmethod
    def load(cls, path: Path) -> "CustomerDirectory":
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise CustomerFileError(
                f"The customer file {path} cannot be read ({exc.strerror or exc}); check the path."
            ) from exc
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CustomerFileError(
                f"The customer file {path} is not UTF-8 text; save it as UTF-8 CSV."
            ) from exc
        return cls(parse_customers(text, source=str(path)))


def parse_customers(text: str, source: str = "customer file") -> List[Customer]:
    """Parse the CSV text; raises CustomerFileError naming the first bad line."""
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise CustomerFileError(f"The {source} is not valid CSV ({exc}).") from exc
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise CustomerFileError(
            f"The {source} is empty; it needs the header line {','.join(HEADER)}."
        )
    header = tuple(cell.strip().lower() for cell in rows[0])
    if header != HEADER:
        raise CustomerFileError(
            f"The {source} starts with {','.join(rows[0])!r}; the first line must be {','.join(HEADER)}."
        )
    customers: List[Customer] = []
    seen = set()
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != 4:
            raise CustomerFileError(
                f"Line {number} of the {source} has {len(row)} fields; it needs 4 ({','.join(HEADER)})."
            )
        customer_id, name, contract, contacts_raw = (cell.strip() for cell in row)
        if not customer_id:
            raise CustomerFileError(f"Line {number} of the {source} has no customer_id.")
        if customer_id in seen:
            raise CustomerFileError(f"Line {number} of the {source} repeats customer_id {customer_id}.")
        seen.add(customer_id)
        contract = contract.lower()
        if contract not in CONTRACTS:
            raise CustomerFileError(
                f"Line {number} of the {source} has contract {contract!r}; use support, update or none."
            )
        contacts = []
        for contact in (c.strip() for c in contacts_raw.split(";")):
            if not contact:
                continue
            normalized = _normalize_contact(contact)
            if normalized is None:
                raise CustomerFileError(
                    f"Line {number} of the {source} has contact {contact!r}; use an email address, "
                    "an @domain or a phone number in E.164 form (+49…)."
                )
            contacts.append(normalized)
        customers.append(Customer(customer_id, name, contract, tuple(contacts)))
    return customers


def _normalize_contact(contact: str) -> Optional[str]:
    if contact.startswith("@"):
        domain = contact[1:].strip().lower()
        return "@" + domain if re.fullmatch(r"[^@\s]+\.[^@\s]+", domain) else None
    if "@" in contact:
        return normalize_address(contact)
    return normalize_phone(contact)
