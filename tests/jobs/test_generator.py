"""The sample-data generator: deterministic, self-consistent manifest, fast,
appends that add exactly their delta, and memory that does not grow with the
rows."""

import json
import os
import subprocess
import sys

import pytest

import generate

CFG = {
    "seed": 3,
    "transactions": 3000,
    "months": 12,
    "accounts": 4,
    "end": "2025-06-30",
    "currency": "EUR",
    "rates": generate.parse_rates(0.05, None),
    "bad_files": True,
}


def test_same_seed_same_bytes():
    f1, r1, m1, _ = generate.build(dict(CFG), [])
    f2, r2, m2, _ = generate.build(dict(CFG), [])
    assert f1 == f2 and r1 == r2 and m1 == m2
    f3, _, _, _ = generate.build(dict(CFG, seed=4), [])
    assert f3 != f1


def test_manifest_is_consistent():
    files, reference, m, _ = generate.build(dict(CFG), [])
    v, p = m["expected"]["validate"], m["expected"]["process"]
    n = CFG["transactions"]
    per_kind = round(n * 0.05 / 10)
    assert all(m["injected"][k] == per_kind for k in generate.DEFECT_KINDS)
    assert v["read"] == v["valid"] + v["rejected"]
    assert v["rejected"] == sum(v[f"rejected_{r}"] for r in generate.REASONS)
    # each reject kind but multi maps to its own reason; multi rows follow the precedence
    multi = {name: reason for name, reason in generate.MULTI}
    for reason in generate.REASONS[1:]:
        from_multi = sum(c for name, c in m["injected"]["multi_defect_detail"].items() if multi[name] == reason)
        assert v[f"rejected_{reason}"] == m["injected"][reason] + from_multi
    data_rows = sum(f["rows"] for f in m["files"] if not f.get("bad_file"))
    assert data_rows == n
    assert v["read"] == n + v["rejected_unknown_format"]
    assert p["process_rows_in"] == v["valid"]
    assert p["transactions"] == p["process_rows_in"] - p["duplicates_removed"] - p["near_duplicates_removed"]
    assert p["categorised"] + p["uncategorised"] == p["transactions"] and p["uncategorised"] > 0
    assert v["files"] == len(files) and m["injected"]["latin1_files"] >= 1
    assert m["expected"]["marts"]["mart_budget_vs_actual_rows"] == 12 * (len(reference["budgets.csv"].splitlines()) - 1)
    # the formats carry the promised quirks
    eu = [d for name, d in files.items() if name.startswith("eurobank")]
    assert eu and all(d.startswith(b"\xef\xbb\xbf") and b"\r\n" in d and d.endswith(b"\r\n\r\n") for d in eu)
    card = [d for name, d in files.items() if name.startswith("cardco")]
    with pytest.raises(UnicodeDecodeError):
        b"".join(card).decode("utf-8")
    assert any(
        b'"' in line and b"," in line for d in files.values() for line in d.splitlines() if b'""' in line
    )  # quoted fields with escaped quotes


def test_catalogue_rules_agree_with_intended_categories():
    generate.Generator(dict(CFG))  # raises if a template or a rule disagrees


def test_count_lines_emulation():
    assert generate.count_lines(b"") == (0, 0)
    assert generate.count_lines(b"a\r\nb\n\n c\r") == (3, 1)
    assert generate.count_lines(b"\xef\xbb\xbfx\n \t\n") == (1, 1)
    assert generate.count_lines(b"\xff\x85\n\xa0") == (2, 0)  # Latin-1: NEL and NBSP are not \\s in Java


def test_too_small_is_refused():
    with pytest.raises(SystemExit, match="too small"):
        generate.build(dict(CFG, transactions=100), [])


def test_hundred_thousand_rows(tmp_path):
    """The demo's size: exactly the rows asked for, in the manifest too.
    (How fast is the demo's business, not a timed test's.)"""
    generate.main(["--out", str(tmp_path / "lake"), "--transactions", "100000", "--seed", "42"])
    m = json.loads((tmp_path / "lake" / "manifest.json").read_text())
    assert m["expected"]["validate"]["read"] == 100000


def test_append_adds_exactly_its_delta(tmp_path):
    lake = tmp_path / "lake"
    generate.main(
        ["--out", str(lake), "--transactions", "3000", "--months", "12", "--seed", "5", "--end", "2025-06-30"]
    )
    raw = lake / "raw" / "transactions"
    before = {p.name: p.read_bytes() for p in raw.iterdir()}
    m0 = json.loads((lake / "manifest.json").read_text())
    generate.main(["--out", str(lake), "--append", "400"])
    m1 = json.loads((lake / "manifest.json").read_text())
    after = {p.name: p.read_bytes() for p in raw.iterdir()}
    added = set(after) - set(before)
    assert all(after[k] == v for k, v in before.items())  # old exports untouched
    assert len(added) == 1 and m1["appends"][0]["file"] in added
    assert m1["appends"][0]["month"] == "2025-07"
    delta = m1["appends"][0]["delta"]
    for job in ("validate", "process", "marts"):
        for k, v in m1["expected"][job].items():
            assert v == pytest.approx(m0["expected"][job][k] + delta[job][k]), (job, k)
    assert delta["validate"]["read"] == 400 and delta["validate"]["files"] == 1
    assert delta["marts"]["mart_budget_vs_actual_rows"] == 11  # one new month x 11 budget lines
    # a second append goes to the next month and the next account
    generate.main(["--out", str(lake), "--append", "300"])
    m2 = json.loads((lake / "manifest.json").read_text())
    assert [a["month"] for a in m2["appends"]] == ["2025-07", "2025-08"]
    assert m2["appends"][0] == m1["appends"][0]
    assert m2["appends"][0]["account_id"] != m2["appends"][1]["account_id"]


def test_refuses_to_overwrite_without_force(tmp_path):
    generate.main(["--out", str(tmp_path), "--transactions", "2000"])
    with pytest.raises(SystemExit, match="--force"):
        generate.main(["--out", str(tmp_path), "--transactions", "2000"])
    generate.main(["--out", str(tmp_path), "--transactions", "2500", "--force"])
    assert json.loads((tmp_path / "manifest.json").read_text())["generator"]["transactions"] == 2500
    assert not os.path.exists(tmp_path / "manifest.json.tmp")


def _peak_rss_kib(tmp_path, rows):
    """Peak RSS of a fresh Python that generates `rows` transactions."""
    code = (
        "import resource, sys; sys.path.insert(0, sys.argv[1]); import generate; "
        "generate.main(['--out', sys.argv[2], '--transactions', sys.argv[3], '--seed', '42', '--bad-files']); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    here = os.path.dirname(generate.__file__)
    out = subprocess.run(
        [sys.executable, "-c", code, here, str(tmp_path / f"lake-{rows}"), str(rows)],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.split()[-1])


def test_memory_does_not_grow_with_the_rows(tmp_path):
    """The lake is written in bounded memory: 10x the rows may add a few
    bytes a row (the defective rows are kept: 2% of them), not the ~750 bytes
    a row an in-memory list of rows costs (20k -> 200k rows: 34 -> 170 MB
    before streaming, 19 -> 22 MB after)."""
    small, large = _peak_rss_kib(tmp_path, 20_000), _peak_rss_kib(tmp_path, 200_000)
    grown_bytes_per_row = (large - small) * 1024 / 180_000
    assert grown_bytes_per_row < 50, (small, large)
