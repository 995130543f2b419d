#!/usr/bin/env python3
"""Sample data for the household-finance pipeline, with known defects.

    python dags/sample_data/generate.py --out LAKE [--transactions 100000]
        [--months 24] [--accounts 4] [--seed 42] [--end 2025-12-31]
        [--defect-rate 0.02] [--rate KIND=R ...] [--bad-files] [--force]
    python dags/sample_data/generate.py --out LAKE --append N

writes

    LAKE/raw/transactions/*.csv   bank exports, one per account and year
    LAKE/reference/accounts.csv   the accounts
    LAKE/reference/rules.csv      merchant pattern -> category
    LAKE/reference/budgets.csv    monthly budget per category
    LAKE/manifest.json            what was injected and the exact metrics the
                                  validate, process and marts jobs must report

--transactions is the number of data lines written (every defect and
duplicate included).  --defect-rate R injects round(N * R / 10) rows of each
of the ten defect kinds (eight reject kinds: bad_date, bad_amount,
unknown_account, currency_mismatch, missing_field, malformed_row,
future_date and multi_defect, rows with two defects whose reason follows the
documented precedence; plus exact_duplicate and near_duplicate).
--rate KIND=R overrides one kind.  --bad-files adds an empty file, a
header-only file, an export of an unknown bank and a binary file.  Files also
carry encoding quirks: the eu bank writes UTF-8 with BOM and CRLF and ends
with a blank line, the card issuer writes ISO-8859-1 with CRLF, descriptions
contain quoted commas and quotes.

--append N adds one export of N rows for the month after the last one (one
account, in turn), updates the manifest's expected totals and records the
delta in manifest["appends"][-1].

The output is a pure function of the arguments (and, for appends, of the
manifest): the same seed gives the same bytes.  The expected metrics are
computed here from the generator's own knowledge of every row, with an
independent implementation of the documented rules, so the end-to-end test
compares two implementations.  Future-dated defects lie after 2100, so any
--as-of between manifest["as_of_min"] and manifest["as_of_max"] (the job's
default, today, included) gives the same counts.
"""

import argparse
import bisect
import calendar
import datetime as dt
import functools
import itertools
import json
import marshal
import os
import random
import re
import shutil
import struct
import sys
import tempfile
import time
from array import array

MANIFEST_VERSION = 1
DEFAULT_END = dt.date(2025, 12, 31)
REJECT_KINDS = (
    "bad_date",
    "bad_amount",
    "unknown_account",
    "currency_mismatch",
    "missing_field",
    "malformed_row",
    "future_date",
    "multi_defect",
)
DUP_KINDS = ("exact_duplicate", "near_duplicate")
DEFECT_KINDS = REJECT_KINDS + DUP_KINDS
REASONS = (
    "unknown_format",
    "malformed_row",
    "missing_field",
    "bad_date",
    "bad_amount",
    "unknown_account",
    "currency_mismatch",
    "future_date",
)
INCOME_CATS = ("Income",)
TRANSFER_CATS = ("Transfer",)
TOP_MERCHANTS = 10
UNCATEGORISED = "uncategorised"

# --------------------------------------------------------------------------
# Formats (the documented export formats; see dags/jobs/sparkflow_jobs/formats.py)
# --------------------------------------------------------------------------

FORMATS = {
    "iso": {
        "header": ["Date", "Account", "Description", "Amount", "Currency", "Reference"],
        "ext": True,
        "date": "%Y-%m-%d",
        "decimal": ".",
        "eol": "\n",
        "bom": False,
        "encoding": "utf-8",
        "blank_tail": False,
    },
    "eu": {
        "header": ["Booking Date", "Account", "Payee", "Amount", "Currency"],
        "ext": False,
        "date": "%d/%m/%Y",
        "decimal": ",",
        "eol": "\r\n",
        "bom": True,
        "encoding": "utf-8",
        "blank_tail": True,
    },
    "us": {
        "header": ["Transaction Date", "Card Account", "Merchant", "Amount", "Currency", "Transaction ID"],
        "ext": True,
        "date": "%m/%d/%Y",
        "decimal": ".",
        "eol": "\r\n",
        "bom": False,
        "encoding": "latin-1",
        "blank_tail": False,
    },
}

# (type, institution, format, name, id prefix, role)
ACCOUNT_TEMPLATES = (
    ("checking", "Northbank", "iso", "Everyday checking", "NB", "primary"),
    ("credit_card", "Cardco", "us", "Cardco Visa", "CC", "card"),
    ("savings", "Northbank", "iso", "Rainy-day savings", "NB", "savings"),
    ("checking", "Eurobank", "eu", "Joint account", "EB", "secondary"),
)

# --------------------------------------------------------------------------
# Merchants and rules
# --------------------------------------------------------------------------

# templates, intended category (None: no rule), amount range in cents, weight, where
# where: "all" or "eu" (eu-style names: only on the eu account and the card)
DISCRETIONARY = (
    (("TESCO STORES {n4}", "Tesco Stores {n4}", "TESCO STORES #{n4}"), "Groceries", 800, 12000, 10, "all"),
    (("LIDL {n3}", "Lidl {n3}", "LIDL #{n3}"), "Groceries", 500, 9000, 8, "all"),
    (("ALDI SUED {n4}", "Aldi Sued {n4}"), "Groceries", 500, 8000, 6, "all"),
    (("WHOLE FOODS MARKET #{n3}", "Whole Foods Market {n3}"), "Groceries", 1500, 15000, 4, "all"),
    (("BÄCKEREI SCHMIDT", "Bäckerei Schmidt {n2}"), "Groceries", 200, 1500, 4, "eu"),
    (("SQ *BLUE BOTTLE COFFEE", "SQ *Blue Bottle Coffee #{n4}", "Blue Bottle Coffee"), "Dining", 350, 1200, 6, "all"),
    (("STARBUCKS #{n5}", "Starbucks {n5}"), "Dining", 300, 1100, 6, "all"),
    (("PIZZA EXPRESS {n3}", "Pizza Express {n3}"), "Dining", 1500, 6000, 3, "all"),
    (("CAFÉ MÜNSTER", "Café Münster #{n2}"), "Dining", 300, 2500, 4, "eu"),
    (("SUSHI YA", "PAYPAL *SUSHI YA"), "Dining", 1200, 7000, 2, "all"),
    (("MCDONALD'S {n4}", "McDonald's #{n4}", "MCDONALDS {n4}"), "Dining", 400, 2500, 4, "all"),
    (('THE "GOOD" DELI', 'The "Good" Deli #{n2}'), "Dining", 600, 3000, 2, "all"),
    (("UBER EATS*{ref}", "Uber Eats*{ref}"), "Dining", 1200, 5000, 3, "all"),
    (("UBER *TRIP {ref}", "UBER *TRIP"), "Transport", 600, 4500, 4, "all"),
    (("SHELL {n4}", "Shell {n4}"), "Transport", 2000, 9000, 4, "all"),
    (("CITY TRANSIT {n6}", "POS CITY TRANSIT"), "Transport", 150, 600, 6, "all"),
    (("BP FUEL {n4}",), "Transport", 2000, 8000, 2, "all"),
    (("AMAZON MKTP*{ref}", "Amazon Mktp*{ref}", "AMAZON MKTP #{ref}"), "Shopping", 500, 20000, 8, "all"),
    (("IKEA {n3}", "Ikea {n3}"), "Shopping", 1000, 40000, 2, "all"),
    (("ZARA {n4}",), "Shopping", 1500, 12000, 2, "all"),
    (("DECATHLON {n3}",), "Shopping", 1000, 15000, 2, "all"),
    (("APPLE STORE #{n3}", "Apple Store #{n3}"), "Shopping", 1000, 150000, 1, "all"),
    (("ACME HARDWARE, INC", "Acme Hardware, Inc. {n3}"), "Shopping", 500, 9000, 2, "all"),
    (("BOOTS PHARMACY {n4}",), "Health", 300, 4000, 3, "all"),
    (("DR SMITH DENTAL",), "Health", 5000, 30000, 1, "all"),
    (("CINEWORLD {n3}",), "Entertainment", 900, 4000, 2, "all"),
    (("STEAM GAMES {n6}", "Steam Games"), "Entertainment", 500, 6000, 2, "all"),
    (("BOOKSHOP CO", "Bookshop Co {n3}"), "Entertainment", 800, 4000, 2, "all"),
    (("RYANAIR*{ref}",), "Travel", 3000, 30000, 1, "all"),
    (("BOOKING.COM*{ref}", "Booking.com #{ref}"), "Travel", 8000, 60000, 1, "all"),
    (("AIRBNB * {ref}",), "Travel", 10000, 90000, 1, "all"),
    (("GREENFIELD MARKET HALL", "Greenfield Market Hall {n2}"), None, 300, 4000, 2, "all"),
    (("PAYPAL *JOHNSMITH", "PP*JOHNSMITH"), None, 1000, 10000, 1, "all"),
    (("CORNER KIOSK {n3}",), None, 100, 1500, 2, "all"),
)

# role -> [(key, templates, category, day, base amount in cents or None (computed), scaled)]
RECURRING = {
    "primary": (
        ("payroll", ("ACME CORP PAYROLL {yyyymm}",), "Income", 25, None, False),
        ("rent", ("RENT - GREENWOOD PROPERTIES, LLC",), "Housing", 1, -145000, True),
        ("power", ("DIRECT DEBIT CITY POWER & LIGHT",), "Utilities", 5, -9000, True),
        ("water", ("DIRECT DEBIT AQUA WATER CO",), "Utilities", 7, -3500, True),
        ("internet", ("FIBERNET BROADBAND",), "Utilities", 10, -4500, True),
        ("phone", ("MOBILEONE {n8}",), "Utilities", 12, -2500, True),
        ("fee", ("MONTHLY ACCOUNT FEE",), "Fees", 28, -495, False),
        ("to_savings", ("TRANSFER TO SAVINGS",), "Transfer", 26, None, False),
        ("card_payment", ("CARDCO PAYMENT",), "Transfer", 20, None, False),
    ),
    "savings": (
        ("from_checking", ("TRANSFER FROM CHECKING",), "Transfer", 26, None, False),
        ("interest", ("INTEREST PAID",), "Income", 28, None, False),
    ),
    "card": (
        ("netflix", ("NETFLIX.COM",), "Subscriptions", 3, -1599, False),
        ("spotify", ("SPOTIFY {n8}",), "Subscriptions", 9, -1099, False),
        ("prime", ("AMAZON PRIME*{ref}",), "Subscriptions", 15, -899, False),
        ("payment", ("PAYMENT THANK YOU",), "Transfer", 20, None, False),
    ),
    "secondary": (
        ("payroll2", ("EUROTECH GMBH PAYROLL",), "Income", 27, None, False),
        ("energy", ("STADTWERKE ENERGIE {n6}",), "Utilities", 4, -7500, True),
        ("gym", ("GYM PLUS {n4}",), "Health", 2, -3500, False),
    ),
}

RULES = (  # pattern, category, priority
    ("PAYROLL", "Income", 10),
    ("INTEREST PAID", "Income", 10),
    ("TRANSFER TO SAVINGS", "Transfer", 5),
    ("TRANSFER FROM CHECKING", "Transfer", 5),
    ("CARDCO PAYMENT", "Transfer", 5),
    ("PAYMENT THANK YOU", "Transfer", 5),
    ("GREENWOOD PROPERTIES", "Housing", 20),
    ("CITY POWER", "Utilities", 50),
    ("AQUA WATER", "Utilities", 50),
    ("FIBERNET", "Utilities", 50),
    ("MOBILEONE", "Utilities", 50),
    ("STADTWERKE", "Utilities", 50),
    ("ACCOUNT FEE", "Fees", 50),
    ("AMAZON PRIME", "Subscriptions", 10),
    ("NETFLIX", "Subscriptions", 50),
    ("SPOTIFY", "Subscriptions", 50),
    ("AMAZON", "Shopping", 50),
    ("IKEA", "Shopping", 50),
    ("ZARA", "Shopping", 50),
    ("DECATHLON", "Shopping", 50),
    ("APPLE STORE", "Shopping", 50),
    ("ACME HARDWARE", "Shopping", 50),
    ("TESCO", "Groceries", 50),
    ("LIDL", "Groceries", 50),
    ("ALDI", "Groceries", 50),
    ("WHOLE FOODS", "Groceries", 50),
    ("BÄCKEREI", "Groceries", 50),
    ("COFFEE", "Dining", 60),
    ("STARBUCKS", "Dining", 50),
    ("PIZZA", "Dining", 50),
    ("CAFÉ", "Dining", 50),
    ("SUSHI", "Dining", 50),
    ("MCDONALDS", "Dining", 50),
    ("GOOD DELI", "Dining", 50),
    ("UBER EATS", "Dining", 10),
    ("UBER", "Transport", 50),
    ("SHELL", "Transport", 50),
    ("TRANSIT", "Transport", 50),
    ("BP FUEL", "Transport", 50),
    ("PHARMACY", "Health", 50),
    ("DENTAL", "Health", 50),
    ("GYM", "Health", 50),
    ("CINEWORLD", "Entertainment", 50),
    ("STEAM GAMES", "Entertainment", 50),
    ("BOOKSHOP", "Entertainment", 50),
    ("RYANAIR", "Travel", 50),
    ("BOOKING COM", "Travel", 50),
    ("AIRBNB", "Travel", 50),
)

BUDGET_CATEGORIES = (
    "Housing",
    "Utilities",
    "Groceries",
    "Dining",
    "Transport",
    "Shopping",
    "Subscriptions",
    "Health",
    "Entertainment",
    "Travel",
    "Fees",
)

# --------------------------------------------------------------------------
# The documented rules, implemented independently of the Spark jobs
# --------------------------------------------------------------------------

_PREFIX = re.compile(r"^(SQ \*|SQ\*|PAYPAL \*|PAYPAL\*|PP\*|POS |CARD PAYMENT TO |DIRECT DEBIT )")
_WS_CHARS = " \t\n\x0b\f\r"


def _jtrim(s):
    """Trim the characters Java's \\s matches (what the jobs trim)."""
    return s.strip(_WS_CHARS)


def normalise_merchant(description):
    up = _jtrim(description.upper())
    s = _PREFIX.sub("", up, count=1)
    s = re.sub(r"[*#].*", "", s)
    s = re.sub("['\u2019]", "", s)
    s = re.sub(r"[^\w&]|_", " ", s)
    s = re.sub(r"(^|\s)[0-9]+(?=\s|$)", r"\1", s)
    s = _jtrim(re.sub(r"\s+", " ", s))
    return s or up


def ordered_rules(rules):
    return sorted(rules, key=lambda r: (r[2], -len(r[0]), r[0], r[1]))


def categorise(merchant, ordered):
    for pattern, category, _ in ordered:
        if pattern in merchant:
            return category
    return UNCATEGORISED


def count_lines(data):
    """(non-blank lines, blank lines) of a file whose header is unknown, as the
    validate job splits it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if text.startswith("\ufeff"):
        text = text[1:]
    text = re.sub(r"(\r\n|\r|\n)\Z", "", text)
    if text == "":
        return 0, 0
    lines = re.split(r"\r\n|\r|\n", text)
    blank = sum(1 for ln in lines if re.fullmatch(r"[ \t\n\x0b\f\r]*", ln))
    return len(lines) - blank, blank


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def months_ending(end, n):
    out, y, m = [], end.year, end.month
    for _ in range(n):
        out.append((y, m))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def next_month(y, m):
    return (y, m + 1) if m < 12 else (y + 1, 1)


@functools.cache
def month_key(d):
    """'YYYY-MM' of a date; cached, so the facts of a million rows share a
    few dozen strings."""
    return f"{d.year:04d}-{d.month:02d}"


def fmt_amount(cents, decimal, rng=None):
    sign = "-" if cents < 0 else ""
    c = abs(cents)
    units, frac = c // 100, c % 100
    if decimal == ",":
        s = f"{units:,}".replace(",", ".")
        return f"{sign}{s},{frac:02d}"
    if rng is not None and frac == 0 and rng.random() < 0.5:
        return f"{sign}{units}"
    return f"{sign}{units}.{frac:02d}"


_DIGITS = (("{n2}", 2), ("{n3}", 3), ("{n4}", 4), ("{n5}", 5), ("{n6}", 6), ("{n8}", 8))
_REF_FIRST = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_REF_REST = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def render_template(t, rng, d):
    if "{" not in t:
        return t
    out = t
    for k, n in _DIGITS:
        while k in out:
            out = out.replace(k, f"{rng.randrange(10**n):0{n}d}", 1)
    while "{ref}" in out:
        v = rng.randrange(len(_REF_FIRST) * len(_REF_REST) ** 5)
        ref = _REF_FIRST[v % len(_REF_FIRST)]
        v //= len(_REF_FIRST)
        for _ in range(5):
            ref += _REF_REST[v % len(_REF_REST)]
            v //= len(_REF_REST)
        out = out.replace("{ref}", ref, 1)
    return out.replace("{yyyymm}", f"{d.year:04d}{d.month:02d}")


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def csv_field(value, force_quote=False):
    if force_quote or _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def render_line(fields, fmt_name, quote_amount_at=None):
    """fields in file order; the eu format always quotes the amount."""
    parts = []
    for i, v in enumerate(fields):
        parts.append(csv_field(v, force_quote=(fmt_name == "eu" and i == quote_amount_at)))
    return ",".join(parts)


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------


class Row:
    """One base transaction (before defects and duplicates)."""

    __slots__ = (
        "acc",
        "date",
        "cents",
        "templates",
        "category",
        "merchant",
        "desc",
        "ext",
        "seq",
        "defect",
        "line",
        "key",
    )

    def __init__(self, acc, date, cents, templates, seq):
        self.acc, self.date, self.cents, self.templates, self.seq = acc, date, cents, templates, seq
        self.defect = None  # reject kind when mutated
        self.line = None  # rendered line


class DaySpill:
    """Discretionary rows on disk, one file per account and day, in the order
    they were drawn: the generator draws them in one pass over the whole date
    range and writes them account by account, day by day, so no list of all
    rows is ever held.  At most BUFFER bytes wait in memory before they are
    appended to their files."""

    RECORD = struct.Struct("<qH")  # cents, index in DISCRETIONARY
    BUFFER = 8 << 20

    def __init__(self, folder):
        self.folder = folder
        self.pending, self.size = {}, 0

    def _path(self, acc_index, date):
        return os.path.join(self.folder, f"{acc_index}-{date.toordinal()}")

    def add(self, acc_index, date, cents, index):
        key = (acc_index, date)
        buf = self.pending.get(key)
        if buf is None:
            buf = self.pending[key] = bytearray()
        buf += self.RECORD.pack(cents, index)
        self.size += self.RECORD.size
        if self.size >= self.BUFFER:
            self.flush()

    def flush(self):
        for (acc_index, date), buf in self.pending.items():
            with open(self._path(acc_index, date), "ab") as f:
                f.write(buf)
        self.pending, self.size = {}, 0

    def read(self, acc_index, date):
        try:
            with open(self._path(acc_index, date), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return ()
        return self.RECORD.iter_unpack(data)


def make_accounts(n, currency):
    accounts = []
    for i in range(n):
        typ, inst, fmt, name, prefix, role = ACCOUNT_TEMPLATES[i % len(ACCOUNT_TEMPLATES)]
        if i >= len(ACCOUNT_TEMPLATES):
            name = f"{name} {i // len(ACCOUNT_TEMPLATES) + 1}"
            role = "secondary" if typ == "checking" else role
        accounts.append(
            {
                "account_id": f"{prefix}-{10012345 + 1111 * i:08d}",
                "name": name,
                "type": typ,
                "institution": inst,
                "currency": currency,
                "format": fmt,
                "role": role,
                "index": i,
            }
        )
    return accounts


class Generator:
    def __init__(self, cfg):
        self.cfg = cfg
        self.currency = cfg["currency"]
        self.accounts = make_accounts(cfg["accounts"], self.currency)
        self.rules = ordered_rules(RULES)
        self.seq = 0
        self.keys, self.key_group = set(), None
        self._check_catalogue()

    # -- catalogue sanity: every template of a merchant normalises the same
    def _check_catalogue(self):
        rng = random.Random(0)
        self.canon, self.category_of = {}, {}
        entries = [(m[0], m[1]) for m in DISCRETIONARY]
        entries += [(r[1], r[2]) for rs in RECURRING.values() for r in rs]
        for templates, category in entries:
            names = {
                normalise_merchant(render_template(t, rng, dt.date(2024, 1, 1))) for t in templates for _ in range(3)
            }
            if len(names) != 1:
                raise AssertionError(f"templates {templates} normalise to {sorted(names)}")
            name = names.pop()
            got = categorise(name, self.rules)
            if got != (category or UNCATEGORISED):
                raise AssertionError(f"{name}: rules give {got}, catalogue says {category}")
            self.canon[templates] = name
            self.category_of[name] = got

    def _new_row(self, acc, date, cents, templates, rng):
        row = Row(acc, date, cents, templates, self.seq)
        self.seq += 1
        row.merchant = self.canon[templates]
        row.category = self.category_of[row.merchant]
        if (acc["account_id"], date) != self.key_group:
            # rows come in (account, date) order, and a key holds both: only
            # the keys of the current account and day can collide
            self.key_group = (acc["account_id"], date)
            self.keys.clear()
        key = (acc["account_id"], date, row.cents, row.merchant)
        while key in self.keys:  # keep base rows unique on the near-duplicate key
            row.cents += -1 if row.cents < 0 else 1
            key = (acc["account_id"], date, row.cents, row.merchant)
        self.keys.add(key)
        row.key = key
        return row

    def recurring(self, acc, y, m, end, rng, amounts):
        """Recurring rows of one account in one month (dates after `end` skipped)."""
        out = []
        last_day = calendar.monthrange(y, m)[1]
        for key, templates, _cat, day, base, scaled in RECURRING[acc["role"]]:
            if key in ("card_payment", "to_savings") and not amounts.get(key + "_enabled"):
                continue
            d = dt.date(y, m, min(day, last_day))
            if d > end or d < self.start:
                continue
            if base is None:
                cents = amounts[key](acc, y, m, rng)
                if cents is None:
                    continue
            else:
                cents = base * (self.scale if scaled else 1)
                if key in ("power", "water", "energy"):
                    cents = int(cents * rng.uniform(0.7, 1.4))
            out.append((acc, d, int(cents), templates))
        return out

    def discretionary(self, accs, n, first, last, rng):
        return [row[:4] for row in self.iter_discretionary(accs, n, first, last, rng)]

    def iter_discretionary(self, accs, n, first, last, rng):
        """n discretionary rows (account, date, cents, templates, index in
        DISCRETIONARY), drawn one after the other from rng."""
        weights = {"primary": 35, "card": 45, "secondary": 20}
        pool = [a for a in accs if a["role"] in weights]
        if not pool:
            return []
        acc_cum = list(itertools.accumulate(weights[a["role"]] for a in pool))
        span = (last - first).days + 1
        cats = {}
        for a in pool:
            eu_ok = a["format"] in ("eu", "us")
            merchants = [(i, mm) for i, mm in enumerate(DISCRETIONARY) if mm[5] == "all" or eu_ok]
            cats[a["account_id"]] = (merchants, list(itertools.accumulate(mm[4] for _i, mm in merchants)))
        for _ in range(n):
            a = rng.choices(pool, cum_weights=acc_cum)[0]
            merchants, mcum = cats[a["account_id"]]
            index, (templates, cat, lo, hi, _w, _where) = rng.choices(merchants, cum_weights=mcum)[0]
            cents = -int(round(lo * (hi / lo) ** rng.random()))
            if cat == "Shopping" and rng.random() < 0.015:
                cents = -cents  # a refund
            d = first + dt.timedelta(days=rng.randrange(span))
            yield a, d, cents, templates, index

    # -- base data -----------------------------------------------------------
    def build_base(self, spill_dir):
        cfg = self.cfg
        rng = random.Random(cfg["seed"])
        self.end = dt.date.fromisoformat(cfg["end"])
        months = months_ending(self.end, cfg["months"])
        self.start = dt.date(months[0][0], months[0][1], 1)
        n = cfg["transactions"]
        self.counts = defect_counts(n, cfg["rates"])
        n_base = n - self.counts["exact_duplicate"] - self.counts["near_duplicate"]
        self.scale = max(1, round(n / len(months) / 150))
        has = {role: [a for a in self.accounts if a["role"] == role] for role in RECURRING}
        primary = has["primary"][0]

        # placeholders first: the number of recurring rows is known before amounts
        plan_amounts = {"card_payment_enabled": bool(has["card"]), "to_savings_enabled": bool(has["savings"])}
        dummy = lambda a, y, m, r: 1  # noqa: E731
        for k in ("payroll", "to_savings", "card_payment", "from_checking", "interest", "payment", "payroll2"):
            plan_amounts[k] = dummy
        # card payments: no payment in the first month (nothing to pay yet)
        plan_amounts["card_payment"] = lambda a, y, m, r: None if (y, m) == months[0] else 1
        plan_amounts["payment"] = plan_amounts["card_payment"]
        n_rec = sum(
            len(self.recurring(a, y, m, self.end, random.Random(0), plan_amounts))
            for a in self.accounts
            for (y, m) in months
        )
        n_disc = n_base - n_rec
        if n_disc < 0:
            raise SystemExit(
                f"--transactions {n} is too small: {cfg['months']} months of "
                f"{cfg['accounts']} accounts already have {n_rec} recurring rows "
                f"(plus {n - n_base} duplicates)"
            )

        # Discretionary rows go to disk, one spill file per account and day in
        # the order drawn (see DaySpill): what the amounts below need of them
        # is summed on the way.
        card_spend = {}
        out = {a["account_id"]: 0 for a in self.accounts}
        spill = DaySpill(spill_dir)
        for a, d, cents, _t, index in self.iter_discretionary(self.accounts, n_disc, self.start, self.end, rng):
            spill.add(a["index"], d, cents, index)
            if a["role"] == "card":
                # card charges per month, paid on the 20th of the next month
                card_spend[(a["account_id"], d.year, d.month)] = (
                    card_spend.get((a["account_id"], d.year, d.month), 0) - cents
                )
            out[a["account_id"]] -= cents
        spill.flush()
        self.spill = spill
        # salaries cover what each paying account spends (the primary account
        # also pays the cards and the savings transfer), plus a margin
        n_months = len(months)
        for a in self.accounts:
            for _key, _t, cat, _d, base, scaled in RECURRING[a["role"]]:
                if base is not None and cat not in INCOME_CATS + TRANSFER_CATS:
                    out[a["account_id"]] += -base * (self.scale if scaled else 1) * n_months
        card_out = sum(out[a["account_id"]] for a in has["card"])
        primary_out = (out[primary["account_id"]] + card_out) / n_months
        margin = rng.uniform(1.04, 1.10)
        to_sav = max(int(primary_out * 0.06) // 1000 * 1000, 10000) if has["savings"] else 0
        pay1 = int((primary_out + to_sav) * margin) // 100 * 100
        second = [out[a["account_id"]] / n_months for a in has["secondary"]]
        pay2 = int(sum(second) / len(second) * margin) // 100 * 100 if second else 0
        card_ids = [a["account_id"] for a in has["card"]]

        def prev(y, m):
            return (y, m - 1) if m > 1 else (y - 1, 12)

        subscriptions = -sum(base for key, _t, _c, _d, base, _s in RECURRING["card"] if base is not None)

        def card_charges(ids, y, m):
            """What the cards charged last month: paid in full this month."""
            if (y, m) == months[0]:
                return None
            py, pm = prev(y, m)
            return max(sum(card_spend.get((cid, py, pm), 0) + subscriptions for cid in ids), 100)

        # the primary account pays the total of all cards in one transfer; each
        # card receives its own previous month's charges
        half = months[len(months) // 2]
        self.amounts = {
            "card_payment_enabled": bool(has["card"]),
            "to_savings_enabled": bool(has["savings"]),
            "payroll": lambda a, y, m, r: pay1 + (pay1 // 100 * 3 if (y, m) >= half else 0),
            "payroll2": lambda a, y, m, r: pay2,
            "to_savings": lambda a, y, m, r: -to_sav,
            "from_checking": lambda a, y, m, r: to_sav,
            "interest": lambda a, y, m, r: int(r.uniform(500, 3000)),
            "card_payment": lambda a, y, m, r: (lambda c: None if c is None else -c)(card_charges(card_ids, y, m)),
            "payment": lambda a, y, m, r: card_charges([a["account_id"]], y, m),
        }

        self.months = months
        self.n_base = n_base
        self.rng = rng
        self.primary = primary
        self.pays = (pay1, pay2, to_sav)

    def iter_base(self):
        """The base rows in file order (account, then date; on one day the
        recurring rows first, then the discretionary ones as drawn), made
        anew from the spill on every call: seq and the near-duplicate keys
        start over."""
        cfg = self.cfg
        self.seq = 0
        self.keys, self.key_group = set(), None
        n = 0
        for a in self.accounts:
            for y, m in self.months:
                rr = random.Random(f"{cfg['seed']}-{a['account_id']}-{y}-{m}")
                by_day = {}
                for _acc, d, cents, templates in self.recurring(a, y, m, self.end, rr, self.amounts):
                    by_day.setdefault(d, []).append((cents, templates))
                for day in range(1, calendar.monthrange(y, m)[1] + 1):
                    d = dt.date(y, m, day)
                    if d < self.start or d > self.end:
                        continue
                    for cents, templates in by_day.get(d, ()):
                        n += 1
                        yield self._new_row(a, d, cents, templates, None)
                    for cents, index in self.spill.read(a["index"], d):
                        n += 1
                        yield self._new_row(a, d, cents, DISCRETIONARY[index][0], None)
        assert n == self.n_base, (n, self.n_base)

    # -- rendering, defects, duplicates ---------------------------------------
    def render(self, rows, rng):
        for r in rows:
            self.render_one(r, rng)

    def render_one(self, r, rng):
        r.desc = render_template(rng.choice(r.templates), rng, r.date)
        r.ext = self._ext(r, rng)

    def _ext(self, r, rng):
        f = r.acc["format"]
        if f == "iso":
            if rng.random() < 0.1:
                return ""
            return f"NB{r.date:%Y%m%d}{rng.randrange(10**6):06d}"
        if f == "us":
            return f"T{rng.randrange(10**10):010d}"
        return None

    def fields(self, r, date=None, account=None, desc=None, amount=None, currency=None, ext=None):
        fmt_name = r.acc["format"]
        fmt = FORMATS[fmt_name]
        export_cents = -r.cents if r.acc["type"] == "credit_card" else r.cents
        vals = [
            date if date is not None else _fmt_date(r.date, fmt["date"]),
            account if account is not None else r.acc["account_id"],
            desc if desc is not None else r.desc,
            amount if amount is not None else fmt_amount(export_cents, fmt["decimal"]),
            currency if currency is not None else r.acc["currency"],
        ]
        if fmt["ext"]:
            vals.append(ext if ext is not None else (r.ext or ""))
        return vals

    def line(self, r, **over):
        return render_line(self.fields(r, **over), r.acc["format"], quote_amount_at=3)


@functools.lru_cache(maxsize=4096)
def _fmt_date(d, pattern):
    return d.strftime(pattern)


def defect_counts(n, rates):
    return {k: int(round(n * rates[k])) for k in DEFECT_KINDS}


# --------------------------------------------------------------------------
# Defects
# --------------------------------------------------------------------------


def _bad_date(r, rng):
    f = r.acc["format"]
    y = r.date.year
    choices = {
        "iso": [
            f"{y}-02-30",
            f"{y}-13-05",
            r.date.strftime("%d.%m.%Y"),
            r.date.strftime("%Y/%m/%d"),
            "N/A",
            r.date.strftime("%Y%m%d"),
            f"{y}-{r.date.month}-{r.date.day}x",
        ],
        "eu": [
            f"30/02/{y}",
            f"15/13/{y}",
            r.date.isoformat(),
            r.date.strftime("%d.%m.%Y"),
            "N/A",
            f"{r.date.day}/{r.date.month}/{y % 100}x",
        ],
        "us": [f"02/30/{y}", f"13/15/{y}", r.date.isoformat(), "N/A", r.date.strftime("%d.%m.%Y")],
    }[f]
    return rng.choice(choices)


def _bad_amount(r, rng):
    f = r.acc["format"]
    cents = abs(r.cents)
    u, c = cents // 100, cents % 100
    if f == "eu":
        return rng.choice(
            [
                f"{u}.{c:02d}",
                f"EUR {u},{c:02d}",
                f"{u},{c:02d}-",
                f"{u},{c:02d},00",
                "n/a",
                f"{u}.{c:02d}.00",
                f"1O{u},{c:02d}",
            ]
        )
    return rng.choice(
        [
            f"{u}.{c:02d}.00",
            f"EUR {u}.{c:02d}",
            f"{u},{c:02d}",
            f"{u}.{c:02d}5",
            "twelve",
            f"1O{u}.{c:02d}",
            f"--{u}.{c:02d}",
        ]
    )


def _future_date(r):
    d = r.date
    s = f"{d.year:04d}"
    y = int(s[0] + s[2] + s[1] + s[3])
    if y <= 2100:
        y = d.year + 200
    day = d.day
    while True:
        try:
            nd = dt.date(y, d.month, day)
            break
        except ValueError:
            day -= 1
    return nd.strftime(FORMATS[r.acc["format"]]["date"])


def _unknown_account(r, rng):
    prefix = r.acc["account_id"].split("-")[0]
    return f"{prefix}-99{rng.randrange(10**6):06d}"


def _other_currency(r, rng):
    return rng.choice([c for c in ("USD", "GBP", "CHF", "SEK") if c != r.acc["currency"]])


def _malformed(g, r, rng, extra_date=None):
    over = {"date": extra_date} if extra_date else {}
    how = rng.randrange(4) if extra_date is None else 3
    fields = g.fields(r, **over)
    if how == 0:  # unquoted comma inside the description
        parts = [csv_field(v, force_quote=(r.acc["format"] == "eu" and i == 3)) for i, v in enumerate(fields)]
        desc = fields[2].replace('"', "").replace(",", "")
        mid = max(1, len(desc) // 2)
        parts[2] = desc[:mid] + ", " + desc[mid:]
        return ",".join(parts)
    if how == 1:  # truncated line
        return render_line(fields[:-1], r.acc["format"], quote_amount_at=3)
    if how == 2:  # unclosed quote
        parts = [csv_field(v, force_quote=(r.acc["format"] == "eu" and i == 3)) for i, v in enumerate(fields)]
        parts[2] = '"' + fields[2].replace('"', "")
        return ",".join(parts)
    return render_line(fields + ["EXTRA"], r.acc["format"], quote_amount_at=3)


MULTI = (  # (name, expected reason)
    ("bad_date+unknown_account", "bad_date"),
    ("missing_currency+bad_amount", "missing_field"),
    ("malformed+bad_date", "malformed_row"),
    ("unknown_account+future_date", "unknown_account"),
    ("currency_mismatch+future_date", "currency_mismatch"),
    ("bad_amount+currency_mismatch", "bad_amount"),
    ("future_date+missing_description", "missing_field"),
)


def mutate(g, r, kind, rng, multi_index=0):
    """Render a defective line for base row r; returns (line, expected reason, detail)."""
    if kind == "bad_date":
        return g.line(r, date=_bad_date(r, rng)), "bad_date", None
    if kind == "bad_amount":
        return g.line(r, amount=_bad_amount(r, rng)), "bad_amount", None
    if kind == "unknown_account":
        return g.line(r, account=_unknown_account(r, rng)), "unknown_account", None
    if kind == "currency_mismatch":
        return g.line(r, currency=_other_currency(r, rng)), "currency_mismatch", None
    if kind == "missing_field":
        field = rng.choice(("date", "account", "desc", "amount", "currency"))
        return g.line(r, **{field: rng.choice(("", "  "))}), "missing_field", None
    if kind == "malformed_row":
        return _malformed(g, r, rng), "malformed_row", None
    if kind == "future_date":
        return g.line(r, date=_future_date(r)), "future_date", None
    assert kind == "multi_defect"
    name, reason = MULTI[multi_index % len(MULTI)]
    if name == "bad_date+unknown_account":
        line = g.line(r, date=_bad_date(r, rng), account=_unknown_account(r, rng))
    elif name == "missing_currency+bad_amount":
        line = g.line(r, currency="", amount=_bad_amount(r, rng))
    elif name == "malformed+bad_date":
        line = _malformed(g, r, rng, extra_date=_bad_date(r, rng))
    elif name == "unknown_account+future_date":
        line = g.line(r, account=_unknown_account(r, rng), date=_future_date(r))
    elif name == "currency_mismatch+future_date":
        line = g.line(r, currency=_other_currency(r, rng), date=_future_date(r))
    elif name == "bad_amount+currency_mismatch":
        line = g.line(r, amount=_bad_amount(r, rng), currency=_other_currency(r, rng))
    else:
        line = g.line(r, date=_future_date(r), desc="")
    return line, reason, name


def near_variant(g, r, rng):
    """A different description of the same merchant (and a new external id)."""
    candidates = [render_template(rng.choice(r.templates), rng, r.date) for _ in range(10)]
    candidates += [r.desc.lower(), r.desc.title(), r.desc.upper()]
    d = next((c for c in candidates if c != r.desc and normalise_merchant(c) == r.merchant), None)
    if d is None:
        raise AssertionError(f"no near-duplicate variant for {r.desc!r}")
    assert normalise_merchant(d) == r.merchant, (d, r.desc)
    ext = g._ext(r, rng)
    return g.line(r, desc=d, ext=ext)


# --------------------------------------------------------------------------
# Lake assembly
# --------------------------------------------------------------------------


def inject(g, rows, counts, rng, tag):
    """Apply defects to base rows (a list, in memory); returns (dups, stats)."""
    order = list(range(len(rows)))
    rng.shuffle(order)
    dups, reasons, multi_detail = inject_at(g, rows, order, counts, rng, tag)
    for r in rows:
        if r.line is None:
            r.line = g.line(r)
    return dups, reasons, multi_detail


def inject_at(g, rows, order, counts, rng, tag, rejected=None, dup_key=None):
    """Apply defects to rows[order[0]], rows[order[1]], ... (rows: a list or
    a DefectSpill, order: at least as many row numbers as defects); returns
    (dups, reject reasons, multi-defect detail), a dup being (row, line) or
    (dup_key(row), line).  rejected(row number, line), when given, is told
    every rejected row's line."""
    n = len(rows)
    pos = 0
    reasons = {r: 0 for r in REASONS}
    multi_detail = {}
    for kind in REJECT_KINDS:
        for i in range(counts[kind]):
            r = rows[order[pos]]
            pos += 1
            line, reason, detail = mutate(g, r, kind, rng, multi_index=i)
            r.defect, r.line = kind, line
            if rejected is not None:
                rejected(order[pos - 1], line)
            reasons[reason] += 1
            if detail:
                multi_detail[detail] = multi_detail.get(detail, 0) + 1
    dups = []
    for kind in DUP_KINDS:
        for _ in range(counts[kind]):
            if pos >= n:
                raise SystemExit(f"too many defects for {n} base rows ({tag})")
            r = rows[order[pos]]
            pos += 1
            line = g.line(r) if kind == "exact_duplicate" else near_variant(g, r, rng)
            dups.append((r if dup_key is None else dup_key(r), line))
    return dups, reasons, multi_detail


def shuffled_prefix(rng, n, k, folder):
    """order[:k] after `order = list(range(n)); rng.shuffle(order)`, with the
    same draws from rng, in memory for k positions instead of n.

    shuffle swaps order[i] with order[randbelow(i + 1)] for i = n-1 down to
    1.  The draws go to a file; then the swaps are undone from the last to
    the first while following only the positions whose values end up in the
    first k slots.  Before the first swap, position p holds p."""
    randbelow = rng._randbelow  # what Random.shuffle draws with
    path = os.path.join(folder, "shuffle")
    step = 1 << 20
    with open(path, "wb") as f:
        chunk = array("I")
        for i in range(n - 1, 0, -1):
            chunk.append(randbelow(i + 1))
            if len(chunk) == step:
                chunk.tofile(f)
                chunk = array("I")
        chunk.tofile(f)
    where = {p: p for p in range(k)}  # position -> the slot its value ends in
    with open(path, "rb") as f:
        end = n - 1  # entry e holds the draw for i = n-1-e
        while end > 0:
            start = max(0, end - step)
            f.seek(start * chunk.itemsize)
            chunk = array("I")
            chunk.fromfile(f, end - start)
            i = n - end
            for j in reversed(chunk):
                if i in where or j in where:
                    a, b = where.pop(i, None), where.pop(j, None)
                    if a is not None:
                        where[j] = a
                    if b is not None:
                        where[i] = b
                i += 1
            end = start
    os.remove(path)
    out = array("q", bytes(8 * k))
    for p, slot in where.items():
        out[slot] = p
    return out


def file_key(r, append_month=None):
    a = r.acc
    inst = a["institution"].lower()
    if append_month:
        return f"{inst}_{a['account_id']}_{append_month}.csv"
    return f"{inst}_{a['account_id']}_{r.date.year}.csv"


def assemble(rows, dups, rng, append_month=None):
    files = {}
    for r in rows:
        files.setdefault(file_key(r, append_month), []).append(r)
    lines = {}
    for key in sorted(files):
        rs = sorted(files[key], key=lambda x: (x.date, x.seq))
        lines[key] = [(r.acc, r.line) for r in rs]
    for r, line in dups:
        key = file_key(r, append_month)
        lst = lines[key]
        lst.insert(rng.randrange(len(lst) + 1), (r.acc, line))
    return lines


class DefectSpill:
    """The rows the defects land on, and the rejected rows' lines, on disk.

    offer() is shown every base row in order and writes the picked ones
    (row number -> offset in an array); spill[row number] reads one back as
    a Row, in the order the defects are drawn.  keep_line() writes a
    rejected row's line; after lines_done(), line(row number) gives them
    back to the last pass, whose row numbers only grow.  In memory: a few
    machine words per defective row."""

    def __init__(self, g, picked, folder):
        self.g = g
        self.n = g.n_base
        self.rows_at = array("q", sorted(picked))
        self.offsets = array("q", bytes(8 * len(self.rows_at)))
        self.next = 0
        self.rows = open(os.path.join(folder, "defect-rows"), "w+b")  # noqa: SIM115
        self.lines = open(os.path.join(folder, "defect-lines"), "w+b")  # noqa: SIM115
        self.line_keys = []

    def __len__(self):
        return self.n

    def offer(self, i, r):
        if self.next < len(self.rows_at) and self.rows_at[self.next] == i:
            self.offsets[self.next] = self.rows.tell()
            marshal.dump((r.acc["index"], r.date.toordinal(), r.cents, r.templates, r.seq, r.desc, r.ext), self.rows)
            self.next += 1

    def __getitem__(self, i):
        k = bisect.bisect_left(self.rows_at, i)
        assert k < len(self.rows_at) and self.rows_at[k] == i, i
        self.rows.seek(self.offsets[k])
        acc_index, ordinal, cents, templates, seq, desc, ext = marshal.load(self.rows)
        r = Row(self.g.accounts[acc_index], dt.date.fromordinal(ordinal), cents, templates, seq)
        r.merchant = self.g.canon[templates]
        r.category = self.g.category_of[r.merchant]
        r.desc, r.ext = desc, ext
        return r

    def keep_line(self, i, line):
        self.line_keys.append((i << 40) | self.lines.tell())
        marshal.dump(line, self.lines)

    def lines_done(self):
        self.rows.close()
        self.rows_at = self.offsets = None
        self.line_keys.sort()
        self.next = 0

    def close(self):
        self.lines.close()

    def line(self, i):
        keys = self.line_keys
        if self.next < len(keys) and keys[self.next] >> 40 == i:
            self.lines.seek(keys[self.next] & ((1 << 40) - 1))
            self.next += 1
            return marshal.load(self.lines)
        return None


def place_dups(dups, file_rows, rng):
    """Where assemble() would insert each duplicate, without the files' lines:
    dups are (file key, line); returns {file key: [(base rows before it,
    line), ...] in file order}; file_rows holds each file's number of base
    rows."""
    placed = {}
    for key, line in dups:
        lst = placed.setdefault(key, [])
        p = rng.randrange(file_rows[key] + len(lst) + 1)
        # the t-th duplicate is line lst[t][0] + t of the file: the new one
        # goes before the first that is at p or after it
        lo, hi = 0, len(lst)
        while lo < hi:
            mid = (lo + hi) // 2
            if lst[mid][0] + mid >= p:
                hi = mid
            else:
                lo = mid + 1
        lst.insert(lo, (p - lo, line))
    return placed


def file_chunks(g, acc, rows, dups, defect_line, facts):
    """The bytes of one export, in pieces: rows is an iterator of (row number,
    rendered base row), dups as place_dups() gives them, defect_line(row
    number) a rejected row's line (else None); every other row goes into
    facts."""
    fmt = FORMATS[acc["format"]]
    eol, enc = fmt["eol"], fmt["encoding"]
    yield (b"\xef\xbb\xbf" if fmt["bom"] else b"") + (",".join(fmt["header"]) + eol).encode(enc)
    buf, d = [], 0
    for written, (i, r) in enumerate(rows):
        while d < len(dups) and dups[d][0] == written:
            buf.append(dups[d][1])
            d += 1
        line = defect_line(i)
        if line is None:
            line = g.line(r)
            facts.add_row(r)
        buf.append(line)
        if len(buf) >= 4096:
            yield (eol.join(buf) + eol).encode(enc)
            buf = []
    buf += [line for _before, line in dups[d:]]
    if buf:
        yield (eol.join(buf) + eol).encode(enc)
    if fmt["blank_tail"]:
        yield eol.encode(enc)


def encode_file(acc_format, lines):
    fmt = FORMATS[acc_format]
    body = fmt["eol"].join([",".join(fmt["header"])] + lines) + fmt["eol"]
    if fmt["blank_tail"]:
        body += fmt["eol"]
    data = body.encode(fmt["encoding"])
    if fmt["bom"]:
        data = b"\xef\xbb\xbf" + data
    return data


def bad_files(rng):
    """(name, bytes, unknown_format rows, blank lines, empty?)"""
    out = [
        ("empty_export.csv", b"", 0, 0, True),
        ("northbank_header_only.csv", (",".join(FORMATS["iso"]["header"]) + "\n").encode(), 0, 0, True),
    ]
    other = ["Datum;Naam;Rekening;Bedrag"] + [
        f"{d:02d}-03-2024;Albert Heijn {d};NL01BANK0123456;-{rng.randrange(100, 9999) / 100:.2f}".replace(".", ",")
        for d in range(1, 6)
    ]
    data = ("\r\n".join(other) + "\r\n").encode()
    nb, bl = count_lines(data)
    out.append(("otherbank_export.csv", data, nb, bl, False))
    garbage = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    for _ in range(3000):
        garbage.append(rng.randrange(256))
    garbage += b"\xff\n\n  \n%%EOF\n"
    data = bytes(garbage)
    nb, bl = count_lines(data)
    out.append(("statement.pdf.csv", data, nb, bl, False))
    return out


class Facts:
    """What the expected metrics need of the clean base rows (as the process
    and marts jobs will see them), summed as the rows go by: a few sets and
    sums per month, account, category and merchant, whatever the rows."""

    def __init__(self):
        self.n = self.categorised = self.income = self.spend = 0
        self.months, self.merchants = set(), set()
        self.month_cur, self.month_cat_cur, self.month_acc = set(), set(), set()
        self.merch = {}  # (month, currency, merchant) -> spend in cents
        self.per_cat = {}  # category -> spend in cents

    def add_row(self, r):
        mo, acc, c, cat, mer, cur = (
            month_key(r.date),
            r.acc["account_id"],
            r.cents,
            r.category,
            r.merchant,
            r.acc["currency"],
        )
        self.n += 1
        self.categorised += cat != UNCATEGORISED
        self.months.add(mo)
        self.merchants.add(mer)
        self.month_cur.add((mo, cur))
        self.month_acc.add((mo, acc))
        self.per_cat[cat] = self.per_cat.get(cat, 0) - c
        if cat in INCOME_CATS:
            self.income += c
        if cat not in INCOME_CATS + TRANSFER_CATS:
            self.spend -= c
            self.month_cat_cur.add((mo, cat, cur))
            self.merch[(mo, cur, mer)] = self.merch.get((mo, cur, mer), 0) - c

    def copy(self):
        out = Facts()
        out.__dict__.update({k: v.copy() if isinstance(v, (set, dict)) else v for k, v in self.__dict__.items()})
        return out


def expected(validate_counts, facts, dup_counts, budgets):
    """Expected metrics of the three jobs (amounts as integer cents in *_cents)."""
    v = dict(validate_counts)
    process = {
        "process_rows_in": v["valid"],
        "duplicates_removed": dup_counts["exact_duplicate"],
        "near_duplicates_removed": dup_counts["near_duplicate"],
        "transactions": facts.n,
        "categorised": facts.categorised,
        "uncategorised": facts.n - facts.categorised,
        "transaction_months": len(facts.months),
        "merchants": len(facts.merchants),
    }
    top = {}
    for (mo, cur, _mer), s in facts.merch.items():
        if s > 0:
            top[(mo, cur)] = top.get((mo, cur), 0) + 1
    marts = {
        "mart_monthly_summary_rows": len(facts.month_cur),
        "mart_spend_by_category_rows": len(facts.month_cat_cur),
        "mart_cash_flow_rows": len(facts.month_acc),
        "mart_budget_vs_actual_rows": len(facts.months) * len(budgets),
        "mart_top_merchants_rows": sum(min(TOP_MERCHANTS, k) for k in top.values()),
        "report_charts": 5,
        "total_income_cents": facts.income,
        "total_spend_cents": facts.spend,
    }
    return {"validate": v, "process": process, "marts": marts}


def finish_expected(e):
    """Cents -> the float the jobs report."""
    out = {k: dict(v) for k, v in e.items()}
    m = out["marts"]
    m["total_income"] = m.pop("total_income_cents") / 100
    m["total_spend"] = m.pop("total_spend_cents") / 100
    return out


def diff_expected(new, old):
    d = {}
    for job in new:
        d[job] = {k: new[job][k] - old[job].get(k, 0) for k in new[job]}
    return d


def validate_counts(read_rows, reasons, files, files_empty, files_unknown, blank):
    v = {"read": read_rows, "rejected": sum(reasons.values())}
    v["valid"] = v["read"] - v["rejected"]
    for r in REASONS:
        v[f"rejected_{r}"] = reasons[r]
    v.update({"files": files, "files_empty": files_empty, "files_unknown_format": files_unknown, "blank_lines": blank})
    return v


def make_budgets(facts, n_months, rng, currency):
    out = []
    for cat in BUDGET_CATEGORIES:
        avg = facts.per_cat.get(cat, 0) / max(n_months, 1) / 100
        b = max(50, int(round(avg * rng.uniform(0.85, 1.2) / 10.0)) * 10)
        out.append((cat, b, currency))
    return out


def build(cfg, appends):
    """Everything the lake holds for cfg + appends, in memory: returns (files
    {name: bytes}, reference {name: text}, manifest, the appends' files)."""
    files, new_files = {}, {}

    def keep(name, append_index, chunks):
        files[name] = b"".join(chunks)
        if append_index is not None:
            new_files[name] = files[name]

    with tempfile.TemporaryDirectory(prefix="generate-") as spill_dir:
        reference, manifest = build_stream(cfg, appends, keep, spill_dir)
    return files, reference, manifest, new_files


def build_stream(cfg, appends, sink, spill_dir):
    """Everything the lake holds for cfg + appends, one export at a time:
    calls sink(name, append index or None, chunks) for every file, where
    chunks is an iterator of the file's bytes (drained here if the sink
    leaves it); returns (reference {name: text}, manifest).

    Memory stays bounded whatever the size: the rows are made three times
    over from what spill_dir holds (the discretionary rows, see DaySpill),
    with the same draws from the same generator states, and what the
    defective rows need goes to spill_dir too (DefectSpill):
      1. the descriptions are drawn, to reach the state the shuffle starts
         from, and each file's rows counted;
      2. the shuffle picks the defective rows (shuffled_prefix), which are
         made again and spilled; the defects and duplicates are drawn;
      3. the rows are made a last time and written, file by file.
    The bytes are those of the in-memory original: one list of rows,
    rendered, shuffled and assembled (inject(), assemble()), which the
    appends still use."""
    g = Generator(cfg)
    g.build_base(spill_dir)
    rng = g.rng
    render_state = rng.getstate()
    file_rows = {}
    for r in g.iter_base():
        g.render_one(r, rng)
        key = file_key(r)
        file_rows[key] = file_rows.get(key, 0) + 1
    n_defects = sum(g.counts[k] for k in DEFECT_KINDS)
    if n_defects > g.n_base:
        raise SystemExit(f"too many defects for {g.n_base} base rows (base)")
    picked = shuffled_prefix(rng, g.n_base, n_defects, spill_dir)
    replay = random.Random()
    replay.setstate(render_state)
    defects = DefectSpill(g, picked, spill_dir)
    for i, r in enumerate(g.iter_base()):
        g.render_one(r, replay)
        defects.offer(i, r)
    names = {}
    dups, reasons, multi = inject_at(
        g,
        defects,
        picked,
        g.counts,
        rng,
        "base",
        rejected=defects.keep_line,
        dup_key=lambda r: names.setdefault(file_key(r), file_key(r)),
    )
    placed = place_dups(dups, file_rows, rng)
    picked = dups = names = None
    defects.lines_done()

    replay.setstate(render_state)
    facts = Facts()
    file_info = []
    blank = n_files = 0

    def rendered():
        for i, r in enumerate(g.iter_base()):
            g.render_one(r, replay)
            yield i, r

    for key, group in itertools.groupby(rendered(), key=lambda t: file_key(t[1])):
        first = next(group)
        acc = first[1].acc
        file_dups = placed.get(key, [])
        chunks = file_chunks(g, acc, itertools.chain([first], group), file_dups, defects.line, facts)  # noqa: B031
        sink(key, None, chunks)
        for _ in chunks:
            pass
        n_files += 1
        blank += 1 if FORMATS[acc["format"]]["blank_tail"] else 0
        file_info.append(
            {
                "name": key,
                "account_id": acc["account_id"],
                "format": acc["format"],
                "encoding": FORMATS[acc["format"]]["encoding"],
                "bom": FORMATS[acc["format"]]["bom"],
                "line_ending": "CRLF" if FORMATS[acc["format"]]["eol"] == "\r\n" else "LF",
                "rows": file_rows[key] + len(file_dups),
            }
        )
    defects.close()
    read_rows = cfg["transactions"]
    files_empty = files_unknown = 0
    if cfg["bad_files"]:
        for name, data, nb, bl, empty in bad_files(random.Random(f"{cfg['seed']}-bad")):
            sink(name, None, iter([data]))
            n_files += 1
            read_rows += nb
            reasons["unknown_format"] += nb
            blank += bl
            files_empty += 1 if empty else 0
            files_unknown += 1 if nb else 0
            file_info.append({"name": name, "bad_file": True, "rows": nb})
    budgets = make_budgets(facts, len(g.months), random.Random(f"{cfg['seed']}-budgets"), g.currency)
    dup_counts = {k: g.counts[k] for k in DUP_KINDS}
    vcounts = validate_counts(read_rows, reasons, n_files, files_empty, files_unknown, blank)
    exp = expected(vcounts, facts, dup_counts, budgets)
    injected = {k: g.counts[k] for k in DEFECT_KINDS}
    state = {
        "g": g,
        "facts": facts,
        "budgets": budgets,
        "exp": exp,
        "vcounts": vcounts,
        "dup_counts": dup_counts,
        "last_month": g.months[-1],
        "last_date": g.end,
    }
    history = []
    for k, n_rows in enumerate(appends):
        state, fname, data, info, delta = build_append(cfg, state, k, n_rows)
        sink(fname, k, iter([data]))
        file_info.append(info)
        history.append(
            {
                "file": fname,
                "rows": n_rows,
                "month": info["month"],
                "account_id": info["account_id"],
                "injected": info["injected"],
                "delta": delta,
            }
        )
    reference = {
        "accounts.csv": "account_id,name,type,institution,currency\n"
        + "".join(
            f"{a['account_id']},{a['name']},{a['type']},{a['institution']},{a['currency']}\n" for a in g.accounts
        ),
        "rules.csv": "pattern,category,priority\n"
        + "".join(f"{csv_field(p)},{c},{pr}\n" for p, c, pr in sorted(RULES, key=lambda r: (r[1], r[0]))),
        "budgets.csv": "category,monthly_budget,currency\n" + "".join(f"{c},{b}.00,{cur}\n" for c, b, cur in budgets),
    }
    last_date = state["last_date"]
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "generator": {k: cfg[k] for k in sorted(cfg)},
        "layout": {"input": "raw/transactions", "reference": "reference"},
        "date_range": {"first": g.start.isoformat(), "last": last_date.isoformat()},
        "as_of_min": last_date.isoformat(),
        "as_of_max": "2099-12-31",
        "accounts": [
            {k: a[k] for k in ("account_id", "name", "type", "institution", "currency", "format")} for a in g.accounts
        ],
        "files": sorted(file_info, key=lambda f: f["name"]),
        "injected": {
            **injected,
            "multi_defect_detail": multi,
            "utf8_bom_files": sum(1 for f in file_info if f.get("bom")),
            "crlf_files": sum(1 for f in file_info if f.get("line_ending") == "CRLF"),
            "latin1_files": sum(1 for f in file_info if f.get("encoding") == "latin-1"),
            "bad_files": sum(1 for f in file_info if f.get("bad_file")),
        },
        "reject_precedence": list(REASONS),
        "expected": finish_expected(state["exp"]),
        "expected_args": {"validate": ["--as-of", last_date.isoformat()], "process": [], "marts": []},
        "appends": history,
    }
    return reference, manifest


def build_append(cfg, state, k, n_rows):
    g = state["g"]
    y, m = next_month(*state["last_month"])
    first = dt.date(y, m, 1)
    last = dt.date(y, m, calendar.monthrange(y, m)[1])
    pool = [a for a in g.accounts if a["role"] in ("primary", "card", "secondary")]
    acc = pool[k % len(pool)]
    rng = random.Random(f"{cfg['seed']}-append-{k}")
    counts = defect_counts(n_rows, cfg["rates"])
    n_base = n_rows - counts["exact_duplicate"] - counts["near_duplicate"]
    amounts = dict(g.amounts)
    amounts["card_payment"] = lambda a, yy, mm, r: -int(r.uniform(50000, 200000))
    amounts["payment"] = lambda a, yy, mm, r: int(r.uniform(50000, 200000))
    g.start = first
    rec = g.recurring(acc, y, m, last, rng, amounts)
    if n_base < len(rec):
        raise SystemExit(f"--append {n_rows} is too small for {len(rec)} recurring rows")
    raw = rec + g.discretionary([acc], n_base - len(rec), first, last, rng)
    raw.sort(key=lambda t: t[1])
    rows = [g._new_row(a, d, c, t, rng) for a, d, c, t in raw]
    g.render(rows, rng)
    dups, reasons, multi = inject(g, rows, counts, rng, f"append {k}")
    month = f"{y:04d}-{m:02d}"
    lines = assemble(rows, dups, rng, append_month=month)
    ((fname, items),) = lines.items()
    data = encode_file(acc["format"], [ln for _a, ln in items])
    facts = state["facts"].copy()
    for r in rows:
        if r.defect is None:
            facts.add_row(r)
    old = state["vcounts"]
    blank = old["blank_lines"] + (1 if FORMATS[acc["format"]]["blank_tail"] else 0)
    merged = {r: old[f"rejected_{r}"] + reasons[r] for r in REASONS}
    vcounts = validate_counts(
        old["read"] + n_rows, merged, old["files"] + 1, old["files_empty"], old["files_unknown_format"], blank
    )
    dup_counts = {kk: state["dup_counts"][kk] + counts[kk] for kk in DUP_KINDS}
    exp = expected(vcounts, facts, dup_counts, state["budgets"])
    delta = finish_expected(diff_expected(exp, state["exp"]))
    new_state = dict(
        state, facts=facts, exp=exp, vcounts=vcounts, dup_counts=dup_counts, last_month=(y, m), last_date=last
    )
    info = {
        "name": fname,
        "account_id": acc["account_id"],
        "format": acc["format"],
        "encoding": FORMATS[acc["format"]]["encoding"],
        "bom": FORMATS[acc["format"]]["bom"],
        "line_ending": "CRLF" if FORMATS[acc["format"]]["eol"] == "\r\n" else "LF",
        "rows": n_rows,
        "month": month,
        "injected": {**counts, "multi_defect_detail": multi},
    }
    return new_state, fname, data, info, delta


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_rates(defect_rate, overrides):
    rates = {k: defect_rate / len(DEFECT_KINDS) for k in DEFECT_KINDS}
    for o in overrides or ():
        k, _, v = o.partition("=")
        if k not in rates:
            raise SystemExit(f"--rate: unknown defect kind {k!r} (one of {', '.join(DEFECT_KINDS)})")
        try:
            rates[k] = float(v)
        except ValueError:
            raise SystemExit(f"--rate {o!r}: not a number") from None
    if any(r < 0 for r in rates.values()) or sum(rates.values()) >= 0.5:
        raise SystemExit("defect rates must be >= 0 and add up to less than 0.5")
    return rates


def write_lake(out, cfg, appends, only_last_append=False):
    """Generate the lake into out, one export at a time (or, with
    only_last_append, only the last append's export and the manifest);
    returns (manifest, number of files written)."""
    raw = os.path.join(out, "raw", "transactions")
    ref = os.path.join(out, "reference")
    os.makedirs(raw, exist_ok=True)
    os.makedirs(ref, exist_ok=True)
    written = []

    def write(name, append_index, chunks):
        if only_last_append and append_index != len(appends) - 1:
            return
        with open(os.path.join(raw, name), "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        written.append(name)

    with tempfile.TemporaryDirectory(prefix=".generate-", dir=out) as spill_dir:
        reference, manifest = build_stream(cfg, appends, write, spill_dir)
    if not only_last_append:
        for name, text in reference.items():
            with open(os.path.join(ref, name), "w", encoding="utf-8", newline="") as f:
                f.write(text)
    tmp = os.path.join(out, "manifest.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, os.path.join(out, "manifest.json"))
    return manifest, len(written)


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="generate.py", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", required=True, help="lake folder to write")
    p.add_argument("--transactions", type=int, default=100_000)
    p.add_argument("--months", type=int, default=24)
    p.add_argument("--accounts", type=int, default=4)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--end", type=dt.date.fromisoformat, default=DEFAULT_END, help=f"last day of data (default {DEFAULT_END})"
    )
    p.add_argument("--currency", default="EUR")
    p.add_argument("--defect-rate", type=float, default=0.02)
    p.add_argument("--rate", action="append", metavar="KIND=R")
    p.add_argument("--bad-files", action="store_true")
    p.add_argument("--force", action="store_true", help="replace an existing lake")
    p.add_argument("--append", type=int, metavar="N", help="add one export of N rows")
    a = p.parse_args(argv)
    t0 = time.monotonic()
    manifest_path = os.path.join(a.out, "manifest.json")

    if a.append is not None:
        if not os.path.exists(manifest_path):
            raise SystemExit(f"--append needs an existing lake: {manifest_path} not found")
        with open(manifest_path, encoding="utf-8") as f:
            old = json.load(f)
        cfg = old["generator"]
        appends = [x["rows"] for x in old["appends"]] + [a.append]
        manifest, _ = write_lake(a.out, cfg, appends, only_last_append=True)
        last = manifest["appends"][-1]
        if dt.date.fromisoformat(manifest["as_of_min"]) > dt.datetime.now(dt.timezone.utc).date():
            print(
                f"warning: data now reaches {manifest['as_of_min']}, after today: run validate "
                f"with --as-of {manifest['as_of_min']} or later",
                file=sys.stderr,
            )
        print(json.dumps({"file": last["file"], "delta": last["delta"]}, sort_keys=True))
        print(f"appended {a.append} rows for {last['month']} in {time.monotonic() - t0:.1f}s", file=sys.stderr)
        return 0

    if a.months < 1 or a.accounts < 1 or a.transactions < 1:
        raise SystemExit("--months, --accounts and --transactions must be positive")
    if os.path.exists(manifest_path) or (
        os.path.isdir(os.path.join(a.out, "raw")) and os.listdir(os.path.join(a.out, "raw"))
    ):
        if not a.force:
            raise SystemExit(f"{a.out} already holds a lake; pass --force to replace it")
        for sub in ("raw", "reference"):
            shutil.rmtree(os.path.join(a.out, sub), ignore_errors=True)
    cfg = {
        "seed": a.seed,
        "transactions": a.transactions,
        "months": a.months,
        "accounts": a.accounts,
        "end": a.end.isoformat(),
        "currency": a.currency.upper(),
        "rates": parse_rates(a.defect_rate, a.rate),
        "bad_files": a.bad_files,
    }
    manifest, n_files = write_lake(a.out, cfg, [])
    e = manifest["expected"]["validate"]
    print(
        f"wrote {n_files} files, {e['read']} rows ({e['rejected']} to reject, "
        f"{manifest['expected']['process']['duplicates_removed']} exact and "
        f"{manifest['expected']['process']['near_duplicates_removed']} near duplicates) "
        f"to {a.out} in {time.monotonic() - t0:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
