"""The static report: one self-contained HTML page with inline SVG charts.

Hand-built SVG keeps the job free of plotting libraries (nothing to install
on a cluster) and the page a single file that can be opened from a bucket or
a laptop.  Input is plain Python data (the collected marts), output is a
string; `render` returns (html, number_of_charts).
"""

from __future__ import annotations

import datetime as _dt
import html
import math
import re
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from typing import Any, SupportsFloat, Union

# A chart series: (name, one value per month, color).
Series = tuple[str, list[float], str]
# A table cell: its text, or (text, extra CSS class).
Cell = Union[str, tuple[str, str]]
# A value's text on a chart: (value, compact) -> text; compact for axis ticks.
Formatter = Callable[[float, bool], str]

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
INCOME = "#59a14f"
SPEND = "#e15759"
NET = "#2f3e4e"
MUTED = "#8a94a0"
GRID = "#e6e9ee"
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}


def _esc(s: object) -> str:
    return html.escape(str(s), quote=True)


def money(v: SupportsFloat, cur: str = "", compact: bool = False) -> str:
    sym = SYMBOLS.get(cur, (cur + " ") if cur else "")
    x = float(v)
    sign = "-" if x < 0 else ""
    a = abs(x)
    if compact and a >= 1_000_000:
        return f"{sign}{sym}{a / 1_000_000:.1f}M"
    if compact and a >= 10_000:
        return f"{sign}{sym}{a / 1000:.0f}k"
    if compact and a >= 1000:
        return f"{sign}{sym}{a / 1000:.1f}k"
    if compact:
        return f"{sign}{sym}{a:.0f}"
    return f"{sign}{sym}{a:,.2f}"


def percent(v: float, compact: bool = False) -> str:
    """A percentage: "12.5%"; compact drops a trailing ".0" (axis ticks)."""
    text = f"{float(v):.1f}"
    if compact and text.endswith(".0"):
        text = text[:-2]
    return text + "%"


def month_label(m: str, with_year: bool = True) -> str:
    d = _dt.date(int(m[:4]), int(m[5:7]), 1)
    return d.strftime("%b %y") if with_year else d.strftime("%b")


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp: float = 10 ** math.floor(math.log10(v))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * exp >= v:
            return step * exp
    return 10 * exp


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    span = hi - lo
    raw = span / n if span > 0 else 1
    exp = 10 ** math.floor(math.log10(raw))
    step = min((s * exp for s in (1, 2, 2.5, 5, 10) if s * exp >= raw), default=10 * exp)
    start = math.floor(lo / step) * step
    out, t = [], start
    while t <= hi + step * 1e-9:
        out.append(round(t, 10))
        t += step
    return out


def _svg(w: int, h: int, body: str, title: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" '
        f'aria-label="{_esc(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="12">'
        f"{body}</svg>"
    )


def _legend(items: Iterable[tuple[str, str, str]], x: float, y: float) -> str:
    out, cx = [], x
    for name, color, shape in items:
        if shape == "line":
            out.append(
                f'<line x1="{cx}" y1="{y - 4}" x2="{cx + 14}" y2="{y - 4}" stroke="{color}" stroke-width="2.5"/>'
            )
        else:
            out.append(f'<rect x="{cx}" y="{y - 10}" width="12" height="12" rx="2" fill="{color}"/>')
        out.append(f'<text x="{cx + 18}" y="{y}" fill="#333">{_esc(name)}</text>')
        cx += 26 + 7 * len(name)
    return "".join(out)


def column_chart(
    months: Sequence[str],
    series: Sequence[Series],
    cur: str,
    line: Series | None = None,
    stacked: bool = False,
    title: str = "",
    fmt: Formatter | None = None,
) -> str:
    """Vertical bars per month: grouped (default) or stacked series, with an
    optional line series.  series: [(name, [values], color)].  Values are
    amounts in `cur` unless `fmt` formats them (e.g. `percent`)."""
    text: Formatter = fmt or (lambda v, compact: money(v, cur, compact))
    w, h, left, right, top, bottom = 820, 320, 64, 16, 34, 46
    pw, ph = w - left - right, h - top - bottom
    n = max(len(months), 1)
    if stacked:
        tops = [sum(max(s[1][i], 0) for s in series) for i in range(len(months))]
        lows = [0.0]
    else:
        tops = [max((s[1][i] for s in series), default=0) for i in range(len(months))]
        lows = [min((s[1][i] for s in series), default=0) for i in range(len(months))]
    if line:
        tops += line[1]
        lows += line[1]
    hi = _nice_max(max(tops + [0]))
    lo = -_nice_max(-min(lows + [0])) if min(lows + [0]) < 0 else 0.0
    ticks = _ticks(lo, hi)
    lo, hi = min(ticks[0], lo), max(ticks[-1], hi)

    def y(v: float) -> float:
        return top + ph * (hi - v) / (hi - lo)

    out = []
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="{GRID}"/>')
        out.append(
            f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" fill="{MUTED}">{_esc(text(t, True))}</text>'
        )
    out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#9aa3ad"/>')
    slot = pw / n
    groups = 1 if stacked else max(len(series), 1)
    bw = max(min(slot * 0.8 / groups, 28), 1.5)
    every = max(1, math.ceil(n / 12))
    for i, m in enumerate(months):
        x0 = left + slot * i + (slot - bw * groups) / 2
        base = 0.0
        for j, (name, vals, color) in enumerate(series):
            v = vals[i]
            if stacked:
                y1, y2 = y(base + max(v, 0)), y(base)
                base += max(v, 0)
                x = x0
            else:
                y1, y2 = (y(v), y(0)) if v >= 0 else (y(0), y(v))
                x = x0 + j * bw
            hgt = max(y2 - y1, 0)
            out.append(
                f'<rect x="{x:.1f}" y="{y1:.1f}" width="{bw:.1f}" height="{hgt:.1f}" fill="{color}">'
                f"<title>{_esc(month_label(m))} · {_esc(name)}: {_esc(text(v, False))}</title></rect>"
            )
        if i % every == 0:
            out.append(
                f'<text x="{left + slot * i + slot / 2:.1f}" y="{h - bottom + 16}" text-anchor="middle" '
                f'fill="#555">{_esc(month_label(m))}</text>'
            )
    legend = [(s[0], s[2], "box") for s in series]
    if line:
        name, vals, color = line
        pts = " ".join(f"{left + slot * i + slot / 2:.1f},{y(v):.1f}" for i, v in enumerate(vals))
        out.append(
            f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round"/>'
        )
        for i, v in enumerate(vals):
            out.append(
                f'<circle cx="{left + slot * i + slot / 2:.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                f"<title>{_esc(month_label(months[i]))} · {_esc(name)}: {_esc(text(v, False))}</title></circle>"
            )
        legend.append((name, color, "line"))
    out.append(_legend(legend, left, 18))
    return _svg(w, h, "".join(out), title)


def bar_chart(
    rows: Sequence[tuple[str, float]],
    cur: str,
    title: str = "",
    markers: Mapping[str, float] | None = None,
    color: str = PALETTE[0],
    over_color: str | None = None,
    label_width: int = 230,
) -> str:
    """Horizontal bars: rows [(label, value)]; markers {label: value} draws a
    target tick (budget); bars past their marker use over_color."""
    bar_h, gap, top = 18, 8, 30
    w, right = 820, 90
    left = label_width
    h = top + len(rows) * (bar_h + gap) + 10
    vals = [v for _, v in rows] + list((markers or {}).values())
    hi = _nice_max(max(vals + [0]))
    pw = w - left - right

    def x(v: float) -> float:
        return left + pw * max(v, 0) / hi

    out = []
    for t in _ticks(0, hi, 4):
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top - 6}" y2="{h - 6}" stroke="{GRID}"/>')
        out.append(
            f'<text x="{x(t):.1f}" y="{top - 10}" text-anchor="middle" fill="{MUTED}">{_esc(money(t, cur, True))}</text>'
        )
    for i, (label, v) in enumerate(rows):
        yy = top + i * (bar_h + gap)
        target = (markers or {}).get(label)
        c = over_color if (over_color and target is not None and v > target) else color
        shown = label if len(label) <= 30 else label[:29] + "…"
        out.append(f'<text x="{left - 8}" y="{yy + 13}" text-anchor="end" fill="#333">{_esc(shown)}</text>')
        out.append(
            f'<rect x="{left}" y="{yy}" width="{max(x(v) - left, 0):.1f}" height="{bar_h}" rx="3" fill="{c}">'
            f"<title>{_esc(label)}: {_esc(money(v, cur))}</title></rect>"
        )
        note = money(v, cur)
        if target is not None:
            tx = x(target)
            out.append(
                f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{yy - 3}" y2="{yy + bar_h + 3}" stroke="{NET}" stroke-width="2.5">'
                f"<title>budget {_esc(money(target, cur))}</title></line>"
            )
            pct = (v / target * 100) if target else 0
            note = f"{money(v, cur, True)} · {pct:.0f}%"
        out.append(
            f'<text x="{max(x(v), x(target) if target is not None else 0) + 6:.1f}" y="{yy + 13}" '
            f'fill="#555">{_esc(note)}</text>'
        )
    return _svg(w, h, "".join(out), title)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Cell]], numeric: Container[int] = ()) -> str:
    th = "".join(f'<th class="{"num" if i in numeric else ""}">{_esc(hd)}</th>' for i, hd in enumerate(headers))
    body = []
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            cls = "num" if i in numeric else ""
            if isinstance(c, tuple):  # (text, css class)
                c, extra = c
                cls += " " + extra
            cells.append(f'<td class="{cls.strip()}">{_esc(c)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


CSS = """
body{margin:0;background:#f5f6f8;color:#1f2933;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:900px;margin:0 auto;padding:28px 20px 60px}
h1{font-size:26px;margin:0 0 2px}h2{font-size:18px;margin:34px 0 4px}
.sub{color:#66707a;margin:0 0 18px}.note{color:#66707a;margin:0 0 10px;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px}
.card{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.card .k{color:#66707a;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:22px;font-weight:650;margin-top:4px}.card .d{color:#66707a;font-size:12px}
.pos{color:#2e7d32}.neg{color:#c62828}
.panel{background:#fff;border-radius:10px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
table{border-collapse:collapse;width:100%;background:#fff;border-radius:10px;overflow:hidden;
box-shadow:0 1px 2px rgba(0,0,0,.06);font-size:13px}
th,td{padding:7px 10px;text-align:left;border-bottom:1px solid #eef0f3}th{background:#fafbfc;color:#4a5561;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
footer{margin-top:36px;color:#8a94a0;font-size:12px}
"""


def render(data: Mapping[str, Any]) -> tuple[str, int]:
    """data: dict with keys summary (monthly_summary rows), spend (spend_by_category
    rows), cash_flow, budget (budget_vs_actual rows), top_merchants_overall
    (merchant totals, best first), quality ({read, valid, rejected, reasons{}} or
    None), last_date (str or None).  Rows are dicts.  Returns (html, charts)."""
    summary = sorted(data["summary"], key=lambda r: (r["currency"], r["month"]))
    currencies = sorted({r["currency"] for r in summary}) or [""]
    cur = currencies[0]
    summary = [r for r in summary if r["currency"] == cur]
    months = [r["month"] for r in summary]
    spend_rows = [r for r in data["spend"] if r["currency"] == cur]
    budget_rows = [r for r in data["budget"] if r["currency"] == cur]
    charts = 0
    parts = []

    income = sum(float(r["income"]) for r in summary)
    spend = sum(float(r["spend"]) for r in summary)
    net = income - spend
    rate = (net / income * 100) if income else 0.0
    ntx = sum(int(r["transactions"]) for r in summary)
    period = f"{month_label(months[0])} – {month_label(months[-1])}" if months else "no data"
    title = "Household finances"
    parts.append(f"<h1>{title}</h1>")
    sub = f"{period} · {len(months)} months · {ntx:,} transactions"
    if data.get("last_date"):
        sub += f" · data through {data['last_date']}"
    if len(currencies) > 1:
        sub += f" · amounts in {cur} (other currencies: {', '.join(currencies[1:])} not shown)"
    parts.append(f'<p class="sub">{_esc(sub)}</p>')

    def card(k: str, v: str, d: str = "", cls: str = "") -> str:
        return (
            f'<div class="card"><div class="k">{_esc(k)}</div><div class="v {cls}">{_esc(v)}</div>'
            f'<div class="d">{_esc(d)}</div></div>'
        )

    avg = len(months) or 1
    cards = [
        card("Income", money(income, cur), f"{money(income / avg, cur)} a month"),
        card("Spending", money(spend, cur), f"{money(spend / avg, cur)} a month"),
        card("Saved", money(net, cur), f"{rate:.1f}% of income", "pos" if net >= 0 else "neg"),
    ]
    q = data.get("quality")
    if q:
        share = (q["valid"] / q["read"] * 100) if q["read"] else 0
        cards.append(card("Rows accepted", f"{share:.1f}%", f"{q['rejected']:,} of {q['read']:,} rejected"))
    parts.append('<div class="cards">' + "".join(cards) + "</div>")

    # 1. income vs spending
    if months:
        parts.append("<h2>Income and spending per month</h2>")
        parts.append(
            '<p class="note">Transfers between your own accounts are left out; the line is what was left over.</p>'
        )
        parts.append(
            '<div class="panel">'
            + column_chart(
                months,
                [
                    ("Income", [float(r["income"]) for r in summary], INCOME),
                    ("Spending", [float(r["spend"]) for r in summary], SPEND),
                ],
                cur,
                line=("Saved", [float(r["net"]) for r in summary], NET),
                title="Income and spending per month",
            )
            + "</div>"
        )
        charts += 1

    # 2. spend by category, whole period
    by_cat: dict[str, float] = {}
    for r in spend_rows:
        by_cat[r["category"]] = by_cat.get(r["category"], 0.0) + float(r["spend"])
    cats = sorted(by_cat.items(), key=lambda kv: (-kv[1], kv[0]))
    if cats:
        parts.append("<h2>Where the money went</h2>")
        parts.append(f'<p class="note">Spending by category over the whole period ({_esc(period)}).</p>')
        parts.append('<div class="panel">' + bar_chart(cats, cur, "Spending by category") + "</div>")
        charts += 1

    # 3. budget vs actual, latest month
    last = months[-1] if months else None
    latest = sorted([r for r in budget_rows if r["month"] == last], key=lambda r: r["category"])
    if latest and last is not None:
        parts.append(f"<h2>Budget vs actual — {_esc(month_label(last))}</h2>")
        over = [r for r in latest if float(r["actual"]) > float(r["budget"])]
        parts.append(
            f'<p class="note">The dark tick is the budget; red bars are over it '
            f"({len(over)} of {len(latest)} categories).</p>"
        )
        parts.append(
            '<div class="panel">'
            + bar_chart(
                [(r["category"], float(r["actual"])) for r in latest],
                cur,
                "Budget vs actual",
                markers={r["category"]: float(r["budget"]) for r in latest},
                color=PALETTE[0],
                over_color=SPEND,
            )
            + "</div>"
        )
        charts += 1

    # 4. monthly spending by category, stacked
    if months and cats:
        top = [c for c, _ in cats[:6]]
        series = []
        for i, c in enumerate(top):
            vals = {r["month"]: float(r["spend"]) for r in spend_rows if r["category"] == c}
            series.append((c, [vals.get(m, 0.0) for m in months], PALETTE[i % len(PALETTE)]))
        if len(cats) > 6:
            other = {m: 0.0 for m in months}
            for r in spend_rows:
                if r["category"] not in top:
                    other[r["month"]] += float(r["spend"])
            series.append(("Other", [other[m] for m in months], PALETTE[9]))
        parts.append("<h2>Spending by category per month</h2>")
        parts.append(
            '<div class="panel">'
            + column_chart(months, series, cur, stacked=True, title="Spending by category per month")
            + "</div>"
        )
        charts += 1

    # 5. top merchants, whole period
    tm = [(r["merchant"], float(r["spend"])) for r in data.get("top_merchants_overall", []) if r["currency"] == cur][
        :10
    ]
    if tm:
        parts.append("<h2>Top merchants</h2>")
        parts.append('<div class="panel">' + bar_chart(tm, cur, "Top merchants", color=PALETTE[1]) + "</div>")
        charts += 1

    # tables
    if latest and last is not None:
        parts.append(f"<h2>Budget table — {_esc(month_label(last))}</h2>")
        rows: list[Sequence[Cell]] = []
        for r in latest:
            rem = float(r["remaining"])
            rows.append(
                (
                    r["category"],
                    money(r["budget"], cur),
                    money(r["actual"], cur),
                    (money(rem, cur), "pos" if rem >= 0 else "neg"),
                    "" if r["used_pct"] is None else f"{r['used_pct']:.0f}%",
                )
            )
        parts.append(_table(("Category", "Budget", "Actual", "Remaining", "Used"), rows, numeric=(1, 2, 3, 4)))

    accounts: dict[str, dict[str, Any]] = {}
    for r in data["cash_flow"]:
        if r["currency"] != cur:
            continue
        a = accounts.setdefault(
            r["account_id"],
            {"name": r["account_name"], "type": r["account_type"], "in": 0.0, "out": 0.0, "n": 0, "last": 0.0},
        )
        a["in"] += float(r["inflow"])
        a["out"] += float(r["outflow"])
        a["n"] += int(r["transactions"])
        if r["month"] == last:
            a["last"] += float(r["net"])
    if accounts:
        parts.append("<h2>Accounts</h2>")
        parts.append('<p class="note">Money in and out of each account over the period, transfers included.</p>')
        rows = []
        for acc_id, a in sorted(accounts.items()):
            netv = a["in"] - a["out"]
            rows.append(
                (
                    a["name"] or acc_id,
                    (a["type"] or "").replace("_", " "),
                    f"{a['n']:,}",
                    money(a["in"], cur),
                    money(a["out"], cur),
                    (money(netv, cur), "pos" if netv >= 0 else "neg"),
                    (money(a["last"], cur), "pos" if a["last"] >= 0 else "neg"),
                )
            )
        parts.append(
            _table(
                ("Account", "Type", "Transactions", "In", "Out", "Net", f"Net {month_label(last) if last else ''}"),
                rows,
                numeric=(2, 3, 4, 5, 6),
            )
        )

    if q:
        parts.append("<h2>Data quality</h2>")
        parts.append(
            f'<p class="note">{q["read"]:,} rows read from the bank exports, '
            f"{q['valid']:,} accepted. Rejected rows are kept with their reason in the "
            f"<code>rejected</code> table.</p>"
        )
        rows = [
            (reason.replace("_", " "), f"{n:,}")
            for reason, n in sorted(q["reasons"].items(), key=lambda kv: (-kv[1], kv[0]))
            if n
        ]
        if rows:
            parts.append(_table(("Reject reason", "Rows"), rows, numeric=(1,)))

    parts.append("<footer>Made by the SparkFlow marts stage from the curated transactions.</footer>")
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{title} · {_esc(period)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(parts)}</main></body></html>\n"
    )
    return page, charts


# --------------------------------------------------------------------------
# The dbt models (the dbt stage adds them to the page the marts stage made)
# --------------------------------------------------------------------------

DBT_SECTION_ID = "dbt-models"


def dbt_section(savings: Sequence[Mapping[str, Any]], unusual: Sequence[Mapping[str, Any]]) -> tuple[str, int]:
    """The dbt models' part of the report: the savings rate per month with
    its trailing 12-month rate (rows of the savings_rate model) and the most
    unusual transactions (rows of unusual_spending, at most 10, highest score
    first).  In the currency render() shows: the first by name.  Returns
    (html of one <section id="dbt-models">, number of charts)."""
    currencies = sorted({r["currency"] for r in savings})
    cur = currencies[0] if currencies else ""
    rows = sorted((r for r in savings if r["currency"] == cur), key=lambda r: r["month"])
    months = [r["month"] for r in rows]
    parts = [f'<section id="{DBT_SECTION_ID}">']
    charts = 0
    if months:
        rate = [float(r["savings_rate_pct"] or 0) for r in rows]
        rate_12m = [float(r["savings_rate_12m_pct"] or 0) for r in rows]
        parts.append("<h2>Savings rate per month</h2>")
        parts.append(
            '<p class="note">Share of the month\'s income that was not spent; the line is the rate over the '
            "last 12 months (from the dbt model <code>savings_rate</code>).</p>"
        )
        parts.append(
            '<div class="panel">'
            + column_chart(
                months,
                [("Savings rate", rate, INCOME)],
                cur,
                line=("12-month rate", rate_12m, NET),
                title="Savings rate per month",
                fmt=percent,
            )
            + "</div>"
        )
        charts += 1
    shown = sorted((r for r in unusual if r["currency"] == cur), key=lambda r: (-float(r["score"]), r["txn_id"]))[:10]
    parts.append("<h2>Unusual spending</h2>")
    if shown:
        parts.append(
            '<p class="note">Payments far above what their category usually costs '
            "(dbt model <code>unusual_spending</code>; highest score first).</p>"
        )
        table_rows: list[Sequence[Cell]] = [
            (
                str(r["txn_date"]),
                r["merchant"] or "",
                r["category"] or "",
                money(r["spend"], cur),
                money(r["category_median"], cur),
                f"{float(r['score']):.1f}",
            )
            for r in shown
        ]
        parts.append(
            _table(("Date", "Merchant", "Category", "Amount", "Usual", "Score"), table_rows, numeric=(3, 4, 5))
        )
    else:
        parts.append(
            '<p class="note">No payment stood out from its category (dbt model '
            "<code>unusual_spending</code> is empty).</p>"
        )
    parts.append("</section>")
    return "".join(parts), charts


def add_section(page: str, section: str) -> str:
    """`page` with `section` (a <section id="..."> element) in it: in place
    of the section with the same id when the page has one (a rebuild
    replaces, never duplicates), else before the footer, else at the end of
    <main>.  Raises ValueError when the page has neither."""
    m = re.match(r'<section id="([^"]+)">', section)
    if not m:
        raise ValueError("not a <section id=...> element")
    start = page.find(m.group(0))
    if start >= 0:
        end = page.index("</section>", start) + len("</section>")
        return page[:start] + section + page[end:]
    for anchor in ("<footer>", "</main>"):
        at = page.find(anchor)
        if at >= 0:
            return page[:at] + section + page[at:]
    raise ValueError("the page has no <footer> or </main>")
