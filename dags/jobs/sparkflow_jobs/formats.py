"""The bank export formats the validate job understands.

A file's format is decided by its first line (the header) alone: the header
is lower-cased, quotes are removed and spaces around commas are dropped, and
the result must equal one of the headers below.  Any other first line makes
every line of that file a reject with reason `unknown_format`.

Every format is comma-separated with '"' quoting ("" is a literal quote), one
record per line (LF, CRLF or CR), UTF-8 with or without BOM, or ISO-8859-1
when the file is not valid UTF-8.  They differ in column names, date format
and decimal separator:

  iso  Date,Account,Description,Amount,Currency,Reference
       2024-03-15   -1234.56  (dot decimal, no thousands separator)
  eu   Booking Date,Account,Payee,Amount,Currency
       15/03/2024   "-1.234,56" (comma decimal, optional '.' thousands)
  us   Transaction Date,Card Account,Merchant,Amount,Currency,Transaction ID
       03/15/2024   1234.56

Amounts are taken as the bank wrote them; the process job applies the sign
convention of the account type.  To support another bank, add a Format here
with its header; nothing else changes.
"""

from __future__ import annotations

from typing import NamedTuple


class Format(NamedTuple):
    name: str
    header: str
    columns: tuple[str, ...]  # the logical field of each position, in file order
    date_format: str
    date_regex: str
    amount_style: str  # "dot" or "comma"


DOT_AMOUNT = r"^[+-]?[0-9]{1,10}(\.[0-9]{1,2})?$"
COMMA_AMOUNT = r"^[+-]?([0-9]{1,10}|[0-9]{1,3}(\.[0-9]{3}){1,3})(,[0-9]{1,2})?$"

FORMATS = (
    Format(
        "iso",
        "date,account,description,amount,currency,reference",
        ("date", "account", "description", "amount", "currency", "external_id"),
        "yyyy-MM-dd",
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        "dot",
    ),
    Format(
        "eu",
        "booking date,account,payee,amount,currency",
        ("date", "account", "description", "amount", "currency"),
        "dd/MM/yyyy",
        r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$",
        "comma",
    ),
    Format(
        "us",
        "transaction date,card account,merchant,amount,currency,transaction id",
        ("date", "account", "description", "amount", "currency", "external_id"),
        "MM/dd/yyyy",
        r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$",
        "dot",
    ),
)

REQUIRED = ("date", "account", "description", "amount", "currency")
OPTIONAL = ("external_id",)
LOGICAL_FIELDS = REQUIRED + OPTIONAL
MAX_COLUMNS = max(len(f.columns) for f in FORMATS)


def normalise_header(line: str) -> str:
    """The comparison key of a header line (the same rule the Spark code uses)."""
    line = line.lstrip("\ufeff").replace('"', "").lower()
    return ",".join(part.strip() for part in line.split(","))


def by_name(name: str) -> Format:
    for f in FORMATS:
        if f.name == name:
            return f
    raise KeyError(name)
