"""Mart aggregates on a small hand-computed set of transactions, and the report."""

import datetime as dt
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

import build_marts
from conftest import file_uri, read_metrics, run_job
from sparkflow_jobs import marts, reference, report

INC, TRF = ("Income",), ("Transfer",)
TX_SCHEMA = (
    "txn_id string, account_id string, account_name string, account_type string, txn_date date, "
    "description string, merchant string, category string, amount decimal(12,2), "
    "exported_amount decimal(12,2), currency string, external_id string, source_file string, "
    "source_line int, month string"
)

# account, date, merchant, category, signed amount
TX = [
    ("A1", "2024-01-25", "ACME PAYROLL", "Income", "3000.00"),
    ("A1", "2024-01-02", "TESCO", "Groceries", "-100.00"),
    ("A1", "2024-01-03", "TESCO", "Groceries", "-50.00"),
    ("A1", "2024-01-04", "LIDL", "Groceries", "-30.00"),
    ("A1", "2024-01-20", "CARDCO PAYMENT", "Transfer", "-400.00"),
    ("C1", "2024-01-20", "PAYMENT THANK YOU", "Transfer", "400.00"),
    ("C1", "2024-01-05", "AMAZON MKTP", "Shopping", "-80.00"),
    ("C1", "2024-01-06", "AMAZON MKTP", "Shopping", "20.00"),  # a refund
    ("C1", "2024-01-07", "IKEA", "Shopping", "-15.00"),
    ("C1", "2024-01-08", "ZARA", "Shopping", "5.00"),  # only a refund: no top-merchant row
    ("C1", "2024-01-09", "KIOSK", "uncategorised", "-15.00"),
    ("A1", "2024-02-02", "TESCO", "Groceries", "-70.00"),
]
BUDGETS = reference.parse_budgets(
    b"category,monthly_budget,currency\nGroceries,150,EUR\nShopping,100,EUR\nTravel,0,EUR\n"
)


@pytest.fixture(scope="module")
def base(spark):
    rows = []
    for i, (acc, d, merchant, cat, amt) in enumerate(TX):
        date = dt.date.fromisoformat(d)
        rows.append(
            (
                f"t{i}",
                acc,
                {"A1": "Checking", "C1": "Card"}[acc],
                {"A1": "checking", "C1": "credit_card"}[acc],
                date,
                merchant,
                merchant,
                cat,
                Decimal(amt),
                Decimal(amt),
                "EUR",
                None,
                "f",
                i,
                d[:7],
            )
        )
    tx = spark.createDataFrame(rows, TX_SCHEMA)
    return marts.base_aggregate(tx).cache()


def by(rows, *keys):
    return {tuple(r[k] for k in keys): r for r in (x.asDict() for x in rows)}


def test_spend_by_category_nets_refunds_and_skips_income_and_transfers(base):
    got = by(marts.spend_by_category(base, INC, TRF).collect(), "month", "category")
    assert {k: (v["spend"], v["transactions"]) for k, v in got.items()} == {
        ("2024-01", "Groceries"): (Decimal("180.00"), 3),
        ("2024-01", "Shopping"): (Decimal("70.00"), 4),
        ("2024-01", "uncategorised"): (Decimal("15.00"), 1),
        ("2024-02", "Groceries"): (Decimal("70.00"), 1),
    }


def test_monthly_summary(base):
    got = by(marts.monthly_summary(base, INC, TRF).collect(), "month")
    jan = got[("2024-01",)]
    assert (jan["income"], jan["spend"], jan["net"], jan["transactions"]) == (
        Decimal("3000.00"),
        Decimal("265.00"),
        Decimal("2735.00"),
        11,
    )
    assert jan["savings_rate"] == pytest.approx(91.2)
    assert jan["last_date"] == dt.date(2024, 1, 25)
    feb = got[("2024-02",)]
    assert (feb["income"], feb["spend"], feb["savings_rate"]) == (Decimal("0.00"), Decimal("70.00"), None)


def test_cash_flow_includes_transfers(base):
    got = by(marts.cash_flow(base).collect(), "month", "account_id")
    a1 = got[("2024-01", "A1")]
    assert (a1["inflow"], a1["outflow"], a1["net"], a1["transactions"]) == (
        Decimal("3000.00"),
        Decimal("580.00"),
        Decimal("2420.00"),
        5,
    )
    c1 = got[("2024-01", "C1")]
    assert (c1["inflow"], c1["outflow"], c1["net"]) == (Decimal("425.00"), Decimal("110.00"), Decimal("315.00"))
    assert len(got) == 3


def test_budget_vs_actual_is_a_full_grid(spark, base):
    sbc = marts.spend_by_category(base, INC, TRF)
    got = by(marts.budget_vs_actual(spark, base, sbc, BUDGETS).collect(), "month", "category")
    assert len(got) == 2 * 3
    g = got[("2024-01", "Groceries")]
    assert (g["budget"], g["actual"], g["remaining"], g["used_pct"]) == (
        Decimal("150.00"),
        Decimal("180.00"),
        Decimal("-30.00"),
        120.0,
    )
    assert got[("2024-02", "Shopping")]["actual"] == Decimal("0.00")
    assert got[("2024-01", "Travel")]["used_pct"] is None  # a zero budget has no percentage


def test_top_merchants(base):
    got = marts.top_merchants(base, INC, TRF, 2).collect()
    assert [
        (r["month"], r["rank"], r["merchant"], r["spend"]) for r in sorted(got, key=lambda r: (r["month"], r["rank"]))
    ] == [
        ("2024-01", 1, "TESCO", Decimal("150.00")),
        ("2024-01", 2, "AMAZON MKTP", Decimal("60.00")),
        ("2024-02", 1, "TESCO", Decimal("70.00")),
    ]
    ties = marts.top_merchants(base, INC, TRF, 10).collect()
    jan = [r["merchant"] for r in sorted(ties, key=lambda r: r["rank"]) if r["month"] == "2024-01"]
    assert jan == ["TESCO", "AMAZON MKTP", "LIDL", "IKEA", "KIOSK"]  # IKEA/KIOSK tie: by name; ZARA absent


def _report_data(n_months=3):
    months = [f"2024-{m:02d}" for m in range(1, n_months + 1)]
    summary = [
        {
            "month": m,
            "currency": "EUR",
            "income": Decimal("3000"),
            "spend": Decimal(2000 + 100 * i),
            "net": Decimal(1000 - 100 * i),
            "savings_rate": 30.0,
            "transactions": 40,
            "last_date": dt.date(2024, i + 1, 28),
        }
        for i, m in enumerate(months)
    ]
    spend = [
        {"month": m, "category": c, "currency": "EUR", "spend": Decimal(v), "transactions": 3}
        for m in months
        for c, v in (
            ("Groceries", 400),
            ("Housing", 1400),
            ("Dining", 150),
            ("Travel", 90),
            ("Shopping", 60),
            ("Health", 40),
            ("Fees", 5),
            ("uncategorised", 12),
        )
    ]
    budget = [
        {
            "month": m,
            "category": c,
            "currency": "EUR",
            "budget": Decimal(b),
            "actual": Decimal(a),
            "remaining": Decimal(b - a),
            "used_pct": a * 100.0 / b,
        }
        for m in months
        for c, b, a in (("Groceries", 350, 400), ("Dining", 200, 150))
    ]
    cash = [
        {
            "month": m,
            "account_id": "A1",
            "account_name": "Everyday <checking>",
            "account_type": "checking",
            "currency": "EUR",
            "inflow": Decimal(3000),
            "outflow": Decimal(2500),
            "net": Decimal(500),
            "transactions": 30,
        }
        for m in months
    ]
    top = [
        {
            "currency": "EUR",
            "merchant": f"SHOP {i}",
            "category": "Shopping",
            "spend": Decimal(500 - i * 40),
            "transactions": 2,
        }
        for i in range(12)
    ]
    quality = {"read": 1000, "valid": 980, "rejected": 20, "reasons": {"bad_date": 15, "bad_amount": 5}}
    return {
        "summary": summary,
        "spend": spend,
        "cash_flow": cash,
        "budget": budget,
        "top_merchants_overall": top,
        "quality": quality,
        "last_date": "2024-03-28",
    }


def test_report_is_well_formed_html_with_charts():
    page, charts = report.render(_report_data())
    assert charts == 5
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert len(svgs) == 5
    for svg in svgs:
        ET.fromstring(svg)  # each chart is well-formed XML
    assert "Everyday &lt;checking&gt;" in page  # text is escaped
    assert "Budget vs actual — Mar 24" in page
    assert "€9,000.00" in page  # total income card
    assert "bad date" in page and "98.0%" in page


def test_report_with_one_month_and_no_quality():
    data = _report_data(1)
    data["quality"] = None
    page, charts = report.render(data)
    assert charts == 5 and "Data quality" not in page


def test_money_formatting():
    assert report.money(Decimal("-1234.5"), "EUR") == "-€1,234.50"
    assert report.money(12345, "USD", compact=True) == "$12k"
    assert report.money(1500, "SEK", compact=True) == "SEK 1.5k"


def test_marts_job(spark, tmp_path, base):
    work = tmp_path / "work"
    rows = []
    for i, (acc, d, merchant, cat, amt) in enumerate(TX):
        rows.append(
            (
                f"t{i}",
                acc,
                acc,
                "checking",
                dt.date.fromisoformat(d),
                merchant,
                merchant,
                cat,
                Decimal(amt),
                Decimal(amt),
                "EUR",
                None,
                "f",
                i,
                d[:7],
            )
        )
    spark.createDataFrame(rows, TX_SCHEMA).write.partitionBy("month").parquet(str(work / "transactions"))
    ref = tmp_path / "reference"
    ref.mkdir()
    (ref / "budgets.csv").write_text("category,monthly_budget,currency\nGroceries,150,EUR\nShopping,100,EUR\n")
    rc = run_job(
        build_marts,
        [
            "--work",
            file_uri(work),
            "--reference",
            file_uri(ref),
            "--metrics",
            str(tmp_path / "m.json"),
            "--top-merchants",
            "3",
        ],
        spark,
    )
    assert rc == 0
    assert read_metrics(tmp_path / "m.json") == {
        "mart_monthly_summary_rows": 2,
        "mart_spend_by_category_rows": 4,
        "mart_cash_flow_rows": 3,
        "mart_budget_vs_actual_rows": 4,
        "mart_top_merchants_rows": 4,
        "report_charts": 5,
        "total_income": 3000.0,
        "total_spend": 335.0,
    }
    page = (work / "report" / "index.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 5
    assert "Data quality" not in page  # no validate tables in this work dir
    assert spark.read.parquet(str(work / "marts" / "spend_by_category")).count() == 4
    assert len([f for f in (work / "marts" / "top_merchants").iterdir() if f.name.endswith(".parquet")]) == 1
