"""Reference data: the household's accounts, categorisation rules, budgets.

Three small CSV files (UTF-8, header row) in the reference folder:

  accounts.csv  account_id,name,type,institution,currency
                type is checking | savings | credit_card
  rules.csv     pattern,category[,priority]
                pattern is a case-insensitive substring of the normalised
                merchant; lowest priority wins (default 100), then the
                longest pattern, then the pattern in alphabetical order
  budgets.csv   category,monthly_budget,currency

They are read whole on the driver through the Hadoop FileSystem API (so
s3a:// works) and checked strictly: a malformed reference file stops the job
with a message naming the file and line, because every later number depends
on it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Literal, NamedTuple, overload

from .contract import JobError, join_uri, read_small_file

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ACCOUNT_TYPES = ("checking", "savings", "credit_card")
UNCATEGORISED = "uncategorised"
DEFAULT_PRIORITY = 100


class Account(NamedTuple):
    account_id: str
    name: str
    type: str  # one of ACCOUNT_TYPES
    institution: str
    currency: str


class Rule(NamedTuple):
    pattern: str  # normalise_pattern(...) of what the file says
    category: str
    priority: int


class Budget(NamedTuple):
    category: str
    monthly_budget: Decimal
    currency: str


def _rows(
    data: bytes, uri: str, required: Sequence[str], optional: Sequence[str] = ()
) -> list[tuple[int, dict[str, str]]]:
    """Parse CSV bytes into dicts with lower-cased header names."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise JobError(f"{uri}: not UTF-8 ({e})") from e
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise JobError(f"{uri}: empty file (expected a header: {','.join(required)})") from None
    header = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise JobError(f"{uri}: missing column(s) {', '.join(missing)} (header is {','.join(header)})")
    out = []
    for lineno, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise JobError(f"{uri}:{lineno}: {len(row)} fields, header has {len(header)}")
        rec = {h: cell.strip() for h, cell in zip(header, row)}
        out.append((lineno, rec))
    return out


def parse_accounts(data: bytes, uri: str = "accounts.csv") -> dict[str, Account]:
    accounts: dict[str, Account] = {}
    for lineno, r in _rows(data, uri, ("account_id", "name", "type", "institution", "currency")):
        if not r["account_id"]:
            raise JobError(f"{uri}:{lineno}: empty account_id")
        if r["account_id"] in accounts:
            raise JobError(f"{uri}:{lineno}: duplicate account_id {r['account_id']!r}")
        typ = r["type"].lower()
        if typ not in ACCOUNT_TYPES:
            raise JobError(f"{uri}:{lineno}: type {r['type']!r} is not one of {', '.join(ACCOUNT_TYPES)}")
        cur = r["currency"].upper()
        if not re.fullmatch(r"[A-Z]{3}", cur):
            raise JobError(f"{uri}:{lineno}: currency {r['currency']!r} is not a 3-letter code")
        accounts[r["account_id"]] = Account(r["account_id"], r["name"], typ, r["institution"], cur)
    if not accounts:
        raise JobError(f"{uri}: no accounts")
    return accounts


def normalise_pattern(pattern: str) -> str:
    return " ".join(pattern.upper().split())


def parse_rules(data: bytes, uri: str = "rules.csv") -> list[Rule]:
    rules = []
    for lineno, r in _rows(data, uri, ("pattern", "category"), ("priority",)):
        pat = normalise_pattern(r["pattern"])
        if not pat:
            raise JobError(f"{uri}:{lineno}: empty pattern")
        if not r["category"]:
            raise JobError(f"{uri}:{lineno}: empty category")
        prio_text = r.get("priority", "") or str(DEFAULT_PRIORITY)
        try:
            prio = int(prio_text)
        except ValueError:
            raise JobError(f"{uri}:{lineno}: priority {prio_text!r} is not an integer") from None
        rules.append(Rule(pat, r["category"], prio))
    return order_rules(rules)


def order_rules(rules: Iterable[Rule]) -> list[Rule]:
    """Rules in the order they are tried: priority, longer pattern, pattern."""
    return sorted(rules, key=lambda r: (r.priority, -len(r.pattern), r.pattern, r.category))


def parse_budgets(data: bytes, uri: str = "budgets.csv") -> list[Budget]:
    budgets = []
    seen = set()
    for lineno, r in _rows(data, uri, ("category", "monthly_budget", "currency")):
        try:
            amount = Decimal(r["monthly_budget"])
        except InvalidOperation:
            raise JobError(f"{uri}:{lineno}: monthly_budget {r['monthly_budget']!r} is not a number") from None
        if amount < 0 or not amount.is_finite():
            raise JobError(f"{uri}:{lineno}: monthly_budget must be >= 0")
        key = (r["category"], r["currency"].upper())
        if key in seen:
            raise JobError(f"{uri}:{lineno}: duplicate budget for {key[0]} in {key[1]}")
        seen.add(key)
        budgets.append(Budget(r["category"], amount.quantize(Decimal("0.01")), r["currency"].upper()))
    return budgets


@overload
def load(spark: SparkSession, reference_uri: str, name: Literal["accounts"]) -> dict[str, Account]: ...
@overload
def load(spark: SparkSession, reference_uri: str, name: Literal["rules"]) -> list[Rule]: ...
@overload
def load(spark: SparkSession, reference_uri: str, name: Literal["budgets"]) -> list[Budget]: ...
def load(spark: SparkSession, reference_uri: str, name: str) -> dict[str, Account] | list[Rule] | list[Budget]:
    """Read and parse one reference file: 'accounts', 'rules' or 'budgets'."""
    uri = join_uri(reference_uri, f"{name}.csv")
    try:
        data = read_small_file(spark, uri)
    except JobError:
        raise JobError(
            f"reference file not found: {uri} (the reference folder holds "
            "accounts.csv, rules.csv and budgets.csv; see dags/README.md)"
        ) from None
    if name == "accounts":
        return parse_accounts(data, uri)
    if name == "rules":
        return parse_rules(data, uri)
    if name == "budgets":
        return parse_budgets(data, uri)
    raise KeyError(name)
