"""Processing rules: merchant normalisation, categorisation, sign convention,
exact and near deduplication."""

import datetime as dt
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

import generate
import process_transactions
from conftest import file_uri, read_metrics, run_job
from sparkflow_jobs import process, reference

MERCHANTS = [
    ("SQ *Blue Bottle Coffee #1234", "BLUE BOTTLE COFFEE"),
    ("AMAZON MKTP*2K4J1", "AMAZON MKTP"),
    ("Amazon Mktp #XY12", "AMAZON MKTP"),
    ("McDonald's 0423", "MCDONALDS"),
    ("McDonald’s #77", "MCDONALDS"),
    ("  tesco   stores  2231 ", "TESCO STORES"),
    ("PAYPAL *JOHNSMITH", "JOHNSMITH"),
    ("PP*JOHNSMITH", "JOHNSMITH"),
    ("POS CITY TRANSIT", "CITY TRANSIT"),
    ("DIRECT DEBIT CITY POWER & LIGHT", "CITY POWER & LIGHT"),
    ("RENT - GREENWOOD PROPERTIES, LLC", "RENT GREENWOOD PROPERTIES LLC"),
    ('The "Good" Deli #29', "THE GOOD DELI"),
    ("Café Münster #12", "CAFÉ MÜNSTER"),
    ("BOOKING.COM*AB12CD", "BOOKING COM"),
    ("UBER *TRIP 4821", "UBER"),
    ("Uber Eats*ORDER 881", "UBER EATS"),
    ("ACME CORP PAYROLL 202401", "ACME CORP PAYROLL"),
    ("7 ELEVEN 42", "ELEVEN"),
    ("A1 2B 33", "A1 2B"),
    ("under_score", "UNDER SCORE"),
    ("12345", "12345"),
    ("***", "***"),
    # a line separator inside a description: the cut still takes everything
    # after the '*' (Java's `.` stopped at it and kept "XYZ")
    ("SHOP*12\u2028XYZ", "SHOP"),
    ("tab\there\u00a0#9", "TAB HERE"),
    ("&& 1 &", "&& &"),
]


@pytest.fixture(scope="module")
def normalised(spark):
    df = spark.createDataFrame([(d,) for d, _ in MERCHANTS], "description string")
    return {r[0]: r[1] for r in df.select("description", process.normalise_merchant(F.col("description"))).collect()}


@pytest.mark.parametrize("description,merchant", MERCHANTS)
def test_merchant_normalisation(normalised, description, merchant):
    assert normalised[description] == merchant
    # the generator's independent implementation agrees (the e2e counts rely on it)
    assert generate.normalise_merchant(description) == merchant


RULES = reference.parse_rules(
    b"pattern,category,priority\n"
    b"AMAZON,Shopping,50\n"
    b"amazon prime,Subscriptions,10\n"
    b"UBER,Transport,50\n"
    b"UBER EATS,Dining,50\n"
    b"COFFEE,Dining,60\n"
    b"BLUE BOTTLE,Treats,60\n"
    b"ZZZ,Alpha,70\n"
    b"ZZZ,Beta,70\n"
)


@pytest.mark.parametrize(
    "merchant,category",
    [
        ("AMAZON PRIME", "Subscriptions"),  # lower priority number wins
        ("AMAZON MKTP", "Shopping"),
        ("UBER EATS", "Dining"),  # same priority: the longer pattern wins
        ("UBER", "Transport"),
        ("BLUE BOTTLE COFFEE", "Treats"),  # same priority: longer pattern
        ("ZZZ", "Alpha"),  # same pattern twice: first category alphabetically
        ("CORNER KIOSK", "uncategorised"),
    ],
)
def test_categorisation(spark, merchant, category):
    df = spark.createDataFrame([(merchant,)], "merchant string")
    assert df.select(process.categorise(F.col("merchant"), RULES)).first()[0] == category
    assert generate.categorise(merchant, generate.ordered_rules([tuple(r) for r in RULES])) == category


def test_no_rules_means_uncategorised(spark):
    df = spark.createDataFrame([("X",)], "merchant string")
    assert df.select(process.categorise(F.col("merchant"), [])).first()[0] == "uncategorised"


ACCOUNTS = reference.parse_accounts(
    b"account_id,name,type,institution,currency\n"
    b"A1,Checking,checking,NB,EUR\nS1,Savings,savings,NB,EUR\nC1,Card,credit_card,CC,EUR\n"
)
VALID_SCHEMA = (
    "account_id string, txn_date date, description string, amount decimal(12,2), "
    "currency string, external_id string, source_file string, source_line int, "
    "source_format string"
)
D1, D2 = dt.date(2024, 3, 1), dt.date(2024, 3, 2)


def valid_df(spark, rows):
    return spark.createDataFrame(
        [(a, d, desc, Decimal(amt), "EUR", ext, f, line, "iso") for a, d, desc, amt, ext, f, line in rows], VALID_SCHEMA
    )


def test_sign_convention(spark):
    rows = [
        ("A1", D1, "TESCO", "-10.00", None, "f", 1),
        ("A1", D1, "PAYROLL", "100.00", None, "f", 2),
        ("S1", D1, "INTEREST", "1.00", None, "f", 3),
        ("C1", D1, "AMAZON", "25.00", None, "g", 1),
        ("C1", D1, "PAYMENT THANK YOU", "-50.00", None, "g", 2),
    ]
    got = {
        (r["account_id"], r["description"]): (r["amount"], r["exported_amount"], r["account_type"])
        for r in process.enrich(valid_df(spark, rows), ACCOUNTS, RULES).collect()
    }
    assert got[("A1", "TESCO")][0] == Decimal("-10.00")
    assert got[("A1", "PAYROLL")][0] == Decimal("100.00")
    assert got[("S1", "INTEREST")][0] == Decimal("1.00")
    assert got[("C1", "AMAZON")] == (Decimal("-25.00"), Decimal("25.00"), "credit_card")  # a charge
    assert got[("C1", "PAYMENT THANK YOU")][0] == Decimal("50.00")  # money in


def test_deduplication(spark):
    rows = [
        # exact duplicate across two files: the first file keeps it
        ("A1", D1, "TESCO STORES 12", "-10.00", "R1", "b.csv", 5),
        ("A1", D1, "TESCO STORES 12", "-10.00", "R1", "a.csv", 9),
        ("A1", D1, "TESCO STORES 12", "-10.00", "R1", "a.csv", 10),
        # near duplicate: other decoration and id, same merchant, day, amount
        ("A1", D1, "SQ *Blue Bottle Coffee #1", "-4.50", None, "a.csv", 1),
        ("A1", D1, "BLUE BOTTLE COFFEE", "-4.50", "X9", "a.csv", 2),
        # an exact copy of the near duplicate counts as exact
        ("A1", D1, "BLUE BOTTLE COFFEE", "-4.50", "X9", "a.csv", 3),
        # not duplicates: other amount, other day, other account, other merchant
        ("A1", D1, "SQ *Blue Bottle Coffee #1", "-4.60", None, "a.csv", 4),
        ("A1", D2, "SQ *Blue Bottle Coffee #1", "-4.50", None, "a.csv", 6),
        ("C1", D1, "SQ *Blue Bottle Coffee #1", "4.50", None, "c.csv", 1),
        ("A1", D1, "STARBUCKS", "-4.50", None, "a.csv", 7),
        # null external ids compare equal: exact
        ("A1", D2, "LIDL", "-3.00", None, "a.csv", 20),
        ("A1", D2, "LIDL", "-3.00", None, "a.csv", 21),
    ]
    flagged = process.curate(valid_df(spark, rows), ACCOUNTS, RULES)
    got = {
        (r["source_file"], r["source_line"]): (r["is_exact_duplicate"], r["is_near_duplicate"], r["keep"])
        for r in flagged.collect()
    }
    assert got[("a.csv", 9)] == (False, False, True)
    assert got[("a.csv", 10)] == (True, False, False)
    assert got[("b.csv", 5)] == (True, False, False)
    assert got[("a.csv", 1)] == (False, False, True)
    assert got[("a.csv", 2)] == (False, True, False)
    assert got[("a.csv", 3)] == (True, False, False)
    for k in (("a.csv", 4), ("a.csv", 6), ("c.csv", 1), ("a.csv", 7), ("a.csv", 20)):
        assert got[k] == (False, False, True), k
    assert got[("a.csv", 21)] == (True, False, False)
    m, unknown = process.metrics_from_groups(process.metrics_groups(flagged).collect())
    assert unknown == 0
    assert (m["process_rows_in"], m["duplicates_removed"], m["near_duplicates_removed"], m["transactions"]) == (
        12,
        4,
        1,
        7,
    )
    assert (m["categorised"], m["uncategorised"], m["transaction_months"], m["merchants"]) == (4, 3, 1, 4)
    cur = process.curated(flagged)
    assert cur.count() == 7
    assert cur.select("txn_id").distinct().count() == 7
    assert list(cur.columns) == list(process.CURATED_COLUMNS)


def test_process_job_writes_month_partitions(spark, tmp_path):
    work = tmp_path / "work"
    rows = [
        ("A1", D1, "AMAZON MKTP*1", "-10.00", None, "a.csv", 1),
        ("A1", dt.date(2024, 4, 2), "Corner kiosk", "-2.00", None, "a.csv", 2),
        ("A1", dt.date(2024, 4, 2), "Corner kiosk", "-2.00", None, "a.csv", 3),
    ]
    valid_df(spark, rows).write.parquet(str(work / "valid"))
    ref = tmp_path / "reference"
    ref.mkdir()
    (ref / "accounts.csv").write_text("account_id,name,type,institution,currency\nA1,a,checking,b,EUR\n")
    (ref / "rules.csv").write_text("pattern,category\nAMAZON,Shopping\n")
    rc = run_job(
        process_transactions,
        ["--work", file_uri(work), "--reference", file_uri(ref), "--metrics", str(tmp_path / "m.json")],
        spark,
    )
    assert rc == 0
    assert read_metrics(tmp_path / "m.json") == {
        "process_rows_in": 3,
        "duplicates_removed": 1,
        "near_duplicates_removed": 0,
        "transactions": 2,
        "categorised": 1,
        "uncategorised": 1,
        "transaction_months": 2,
        "merchants": 2,
    }
    assert sorted(p.name for p in (work / "transactions").iterdir() if p.name.startswith("month=")) == [
        "month=2024-03",
        "month=2024-04",
    ]


def test_process_job_needs_the_validate_output(spark, tmp_path, capsys):
    ref = tmp_path / "reference"
    ref.mkdir()
    (ref / "accounts.csv").write_text("account_id,name,type,institution,currency\nA1,a,checking,b,EUR\n")
    (ref / "rules.csv").write_text("pattern,category\n")
    rc = run_job(process_transactions, ["--work", file_uri(tmp_path / "w"), "--reference", file_uri(ref)], spark)
    assert rc == 2
    assert "run the validate stage first" in capsys.readouterr().out
