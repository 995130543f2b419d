"""Validation rules on in-memory files: every reject reason, the precedence,
the file quirks (BOM, CRLF, CR, Latin-1, quoted separators) and bad shapes."""

import datetime as dt
from decimal import Decimal

import pytest

import generate
import validate_transactions
from conftest import file_uri, read_metrics, run_job
from sparkflow_jobs import reference, validate

ACCOUNTS = reference.parse_accounts(
    b"account_id,name,type,institution,currency\n"
    b"A1,Checking,checking,Northbank,EUR\n"
    b"C1,Card,credit_card,Cardco,EUR\n"
    b"U1,Dollar account,checking,Northbank,USD\n"
)
AS_OF = dt.date(2025, 1, 1)

ISO = "Date,Account,Description,Amount,Currency,Reference"
# (line, expected reason or None); one iso file holds them all, so a single
# Spark job classifies every case
ISO_CASES = [
    ("2024-01-02,A1,TESCO STORES 12,-12.50,EUR,R1", None),
    ('2024-01-02,A1,"ACME, ""Inc""",-1,EUR,', None),
    ("2024-01-02,A1,Refund,+5.5,EUR,", None),
    ("2024-01-02, A1 ,  Padded  ,7,eur, ", None),
    ("2025-01-01,A1,On the as-of day,-1.00,EUR,", None),
    ("2024-01-02,U1,Dollars,-1.00,USD,", None),
    ("2024-01-02,A1,Too few,-1.00,EUR", "malformed_row"),
    ("2024-01-02,A1,Too,many,-1.00,EUR,", "malformed_row"),
    ('2024-01-02,A1,"Unclosed,-1.00,EUR,', "malformed_row"),
    (",A1,No date,-1.00,EUR,", "missing_field"),
    ("2024-01-02,,No account,-1.00,EUR,", "missing_field"),
    ("2024-01-02,A1,   ,-1.00,EUR,", "missing_field"),
    ("2024-01-02,A1,No amount,,EUR,", "missing_field"),
    ('2024-01-02,A1,No currency,-1.00,"  ",', "missing_field"),
    ("2024-02-30,A1,Not a day,-1.00,EUR,", "bad_date"),
    ("2024-1-02,A1,Unpadded,-1.00,EUR,", "bad_date"),
    ("02/01/2024,A1,Other format,-1.00,EUR,", "bad_date"),
    ("N/A,A1,Text,-1.00,EUR,", "bad_date"),
    ("2024-01-02,A1,Three decimals,-1.005,EUR,", "bad_amount"),
    ('2024-01-02,A1,Thousands,"1,234.56",EUR,', "bad_amount"),
    ("2024-01-02,A1,Words,twelve,EUR,", "bad_amount"),
    ("2024-01-02,A1,Double sign,--1.00,EUR,", "bad_amount"),
    ("2024-01-02,A1,Symbol,€1.00,EUR,", "bad_amount"),
    ("2024-01-02,Z9,Stranger,-1.00,EUR,", "unknown_account"),
    ("2024-01-02,a1,Case matters,-1.00,EUR,", "unknown_account"),
    ("2024-01-02,A1,Dollars,-1.00,USD,", "currency_mismatch"),
    ("2025-01-02,A1,Tomorrow,-1.00,EUR,", "future_date"),
    ("2204-01-02,A1,Typo year,-1.00,EUR,", "future_date"),
    # precedence: two defects, the earlier reason wins
    ("2024-02-30,A1,Malformed and bad date,-1.00,EUR,,", "malformed_row"),
    ("2024-01-02,A1,Missing currency bad amount,abc,,", "missing_field"),
    ("2024-02-30,A1,Bad date and amount,abc,EUR,", "bad_date"),
    ("2024-02-30,Z9,Bad date unknown account,-1.00,EUR,", "bad_date"),
    ("2024-01-02,A1,Bad amount wrong currency,abc,USD,", "bad_amount"),
    ("2204-01-02,Z9,Unknown account in future,-1.00,EUR,", "unknown_account"),
    ("2204-01-02,A1,Wrong currency in future,-1.00,USD,", "currency_mismatch"),
]

EU = (
    "\ufeffBooking Date,Account,Payee,Amount,Currency\r\n"
    '15/03/2024,A1,Café Münster,"-1.234,56",EUR\r\n'
    "\r\n"
    '16/03/2024,A1,Plain,"12,5",EUR\r\n'
    '17/03/2024,A1,Dot decimal,"12.50",EUR\r\n'
    '2024-03-18,A1,ISO date,"1,00",EUR\r\n'
    '31/04/2024,A1,No such day,"1,00",EUR\r\n'
    "\r\n"
).encode("utf-8")
US = (
    "Transaction Date,Card Account,Merchant,Amount,Currency,Transaction ID\r\n"
    "03/15/2024,C1,CAFÉ MÜNSTER,4.50,EUR,T1\r\n"
    "15/03/2024,C1,Day first,4.50,EUR,T2\r\n"
).encode("latin-1")
CR_ONLY = b"Date,Account,Description,Amount,Currency,Reference\r2024-01-05,A1,Old Mac,-2.00,EUR,\r"
UNKNOWN = b"Datum;Naam;Bedrag\n01-03-2024;Albert Heijn;-12,50\n\n02-03-2024;Jumbo;-3,10\n"
GARBAGE = b"%PDF-1.4\n\x00\x01\xff\xfe binary\r\n\xc3\x28 more\n \n\xff"
FILES = {
    "iso.csv": (ISO + "\n" + "\n".join(line for line, _ in ISO_CASES) + "\n").encode("utf-8"),
    "eu.csv": EU,
    "us.csv": US,
    "cr.csv": CR_ONLY,
    "unknown.csv": UNKNOWN,
    "garbage.bin": GARBAGE,
    "header_only.csv": (ISO + "\r\n").encode(),
    "zero.csv": b"",
}


def files_df(spark, files):
    return spark.createDataFrame(
        [(f"file:/raw/{name}", bytearray(data)) for name, data in files.items()], "path string, content binary"
    )


@pytest.fixture(scope="module")
def classified(spark):
    rows = validate.classify(files_df(spark, FILES), ACCOUNTS, AS_OF).collect()
    return {(r["source_file"].rsplit("/", 1)[1], r["source_line"]): r for r in rows}


@pytest.mark.parametrize("index", range(len(ISO_CASES)), ids=[c[0][:40] for c in ISO_CASES])
def test_iso_rule(classified, index):
    line, reason = ISO_CASES[index]
    row = classified[("iso.csv", index + 2)]
    assert row["raw_line"] == line
    assert row["kind"] == "row"
    assert row["reject_reason"] == reason


def test_every_reason_is_exercised():
    got = {r for _, r in ISO_CASES if r} | {"unknown_format"}
    assert got == set(validate.REASONS)


def test_valid_rows_are_typed_and_trimmed(classified):
    quoted = classified[("iso.csv", 3)]
    assert quoted["description"] == 'ACME, "Inc"'
    assert quoted["amount"] == Decimal("-1.00")
    assert quoted["external_id"] is None
    padded = classified[("iso.csv", 5)]
    assert (padded["account_id"], padded["description"], padded["currency"], padded["amount"]) == (
        "A1",
        "Padded",
        "EUR",
        Decimal("7.00"),
    )
    first = classified[("iso.csv", 2)]
    assert first["txn_date"] == dt.date(2024, 1, 2) and first["external_id"] == "R1"
    assert classified[("iso.csv", 4)]["amount"] == Decimal("5.50")
    assert classified[("iso.csv", 1)]["kind"] == "header"


def test_eu_format_bom_crlf_comma_decimal(classified):
    assert classified[("eu.csv", 1)]["kind"] == "header"
    cafe = classified[("eu.csv", 2)]
    assert cafe["reject_reason"] is None
    assert (cafe["description"], cafe["amount"], cafe["txn_date"]) == (
        "Café Münster",
        Decimal("-1234.56"),
        dt.date(2024, 3, 15),
    )
    assert classified[("eu.csv", 3)]["kind"] == "blank"
    assert classified[("eu.csv", 4)]["amount"] == Decimal("12.50")
    assert classified[("eu.csv", 5)]["reject_reason"] == "bad_amount"
    assert classified[("eu.csv", 6)]["reject_reason"] == "bad_date"
    assert classified[("eu.csv", 7)]["reject_reason"] == "bad_date"
    assert classified[("eu.csv", 8)]["kind"] == "blank"  # one final line break is not a line
    assert ("eu.csv", 9) not in classified


def test_latin1_card_export(classified):
    row = classified[("us.csv", 2)]
    assert row["reject_reason"] is None
    assert row["description"] == "CAFÉ MÜNSTER"
    assert row["txn_date"] == dt.date(2024, 3, 15)
    assert classified[("us.csv", 3)]["reject_reason"] == "bad_date"


def test_cr_line_endings(classified):
    assert classified[("cr.csv", 2)]["reject_reason"] is None
    assert ("cr.csv", 3) not in classified


def test_unknown_format_rejects_every_line_including_the_first(classified):
    rows = [r for k, r in classified.items() if k[0] == "unknown.csv"]
    assert [
        (r["source_line"], r["kind"], r["reject_reason"]) for r in sorted(rows, key=lambda r: r["source_line"])
    ] == [(1, "row", "unknown_format"), (2, "row", "unknown_format"), (3, "blank", None), (4, "row", "unknown_format")]


def test_binary_garbage_is_rejected_line_by_line(classified):
    rows = [r for k, r in classified.items() if k[0] == "garbage.bin"]
    rejected = [r for r in rows if r["reject_reason"]]
    assert {r["reject_reason"] for r in rejected} == {"unknown_format"}
    # the generator's emulation of the split agrees with the job
    assert (len(rejected), sum(r["kind"] == "blank" for r in rows)) == generate.count_lines(GARBAGE)


def test_empty_files_have_no_rows(classified):
    assert [r["kind"] for k, r in classified.items() if k[0] == "header_only.csv"] == ["header"]
    assert [r["kind"] for k, r in classified.items() if k[0] == "zero.csv"] == ["empty_file"]


def test_metrics_add_up(spark):
    c = validate.classify(files_df(spark, FILES), ACCOUNTS, AS_OF)
    m = validate.metrics_from_stats(validate.line_stats(c).collect())
    assert m["read"] == m["valid"] + m["rejected"]
    assert m["rejected"] == sum(m[f"rejected_{r}"] for r in validate.REASONS)
    expected_iso = {r: sum(1 for _, x in ISO_CASES if x == r) for r in validate.REASONS}
    assert m["rejected_future_date"] == expected_iso["future_date"]
    assert m["rejected_unknown_format"] == 3 + generate.count_lines(GARBAGE)[0]
    assert m["files"] == len(FILES)
    assert m["files_empty"] == 2
    assert m["files_unknown_format"] == 2
    assert m["blank_lines"] == 2 + 1 + generate.count_lines(GARBAGE)[1]
    assert m["valid"] == sum(1 for _, x in ISO_CASES if x is None) + 2 + 1 + 1
    valid = validate.valid_rows(c)
    assert valid.count() == m["valid"]
    assert dict(valid.dtypes)["amount"] == "decimal(12,2)" and dict(valid.dtypes)["txn_date"] == "date"
    assert validate.rejected_rows(c).count() == m["rejected"]


def _write_lake(tmp_path, files):
    raw = tmp_path / "lake" / "raw" / "transactions"
    raw.mkdir(parents=True)
    for name, data in files.items():
        (raw / name).write_bytes(data)
    ref = tmp_path / "lake" / "reference"
    ref.mkdir()
    (ref / "accounts.csv").write_text("account_id,name,type,institution,currency\nA1,a,checking,b,EUR\n")
    return raw


def test_job_fails_when_too_many_rows_are_rejected(spark, tmp_path, capsys):
    raw = _write_lake(tmp_path, {"x.csv": (ISO + "\n2024-01-01,Z9,x,1,EUR,\n2024-01-01,A1,y,1,EUR,\n").encode()})
    args = ["--input", file_uri(raw), "--work", file_uri(tmp_path / "w"), "--metrics", str(tmp_path / "m.json")]
    assert run_job(validate_transactions, args + ["--max-reject-rate", "0.4"], spark) == 2
    assert "1 of 2 rows rejected" in capsys.readouterr().out
    m = read_metrics(tmp_path / "m.json")
    assert (m["read"], m["rejected_unknown_account"]) == (2, 1)
    assert run_job(validate_transactions, args, spark) == 0  # default gate 0.5
    assert "validate: OK: read=2 valid=1 rejected=1 (unknown_account=1)" in capsys.readouterr().out


def test_job_fails_on_files_without_rows(spark, tmp_path, capsys):
    raw = _write_lake(tmp_path, {"empty.csv": b"", "header.csv": (ISO + "\n").encode()})
    rc = run_job(validate_transactions, ["--input", file_uri(raw), "--work", file_uri(tmp_path / "w")], spark)
    assert rc == 2
    assert "no transaction rows" in capsys.readouterr().out


def test_job_fails_on_an_empty_folder(spark, tmp_path, capsys):
    raw = _write_lake(tmp_path, {})
    rc = run_job(validate_transactions, ["--input", file_uri(raw), "--work", file_uri(tmp_path / "w")], spark)
    assert rc == 2
    assert "validate: FAILED" in capsys.readouterr().out
