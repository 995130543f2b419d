"""The provider <-> job contract: URIs, arguments, metrics, exit codes."""

import json
import os

import pytest

import validate_transactions
from conftest import file_uri, run_job
from sparkflow_jobs import contract
from sparkflow_jobs.contract import JobError


@pytest.mark.parametrize(
    "uri,expected",
    [
        ("file:///abs/lake/raw/transactions", "file:///abs/lake/reference"),
        ("file:///abs/lake/raw/transactions/", "file:///abs/lake/reference"),
        ("file:/abs/lake/raw/transactions", "file:/abs/lake/reference"),
        ("s3a://bucket/raw/transactions", "s3a://bucket/reference"),
        ("s3a://bucket/finance/raw/transactions", "s3a://bucket/finance/reference"),
        ("/abs/lake/raw/transactions", "/abs/lake/reference"),
        ("lake/raw/transactions", "lake/reference"),
    ],
)
def test_default_reference_is_two_levels_up(uri, expected):
    assert contract.default_reference_uri(uri) == expected


@pytest.mark.parametrize("uri", ["s3a://bucket/transactions", "file:///transactions", "x"])
def test_default_reference_needs_two_parents(uri):
    with pytest.raises(JobError, match="pass --reference"):
        contract.default_reference_uri(uri)


def test_join_and_local_path():
    assert contract.join_uri("s3a://b/work/", "marts", "/cash_flow") == "s3a://b/work/marts/cash_flow"
    assert contract.local_path("file:///tmp/x") == "/tmp/x"
    assert contract.local_path("/tmp/x") == "/tmp/x"
    assert contract.local_path("s3a://b/x") is None


def test_metrics_are_flat_numbers(tmp_path):
    path = tmp_path / "sub" / "m.json"
    contract.write_metrics(str(path), {"read": 3, "total": 1.5})
    assert json.loads(path.read_text()) == {"read": 3, "total": 1.5}
    with pytest.raises(TypeError):
        contract.write_metrics(str(path), {"read": "3"})
    with pytest.raises(TypeError):
        contract.write_metrics(str(path), {"ok": True})
    with pytest.raises(TypeError):
        contract.write_metrics(str(path), {"x": float("nan")})


def test_metrics_to_a_remote_uri_go_through_hadoop(tmp_path, spark, monkeypatch):
    """On EMR --metrics is an s3:// URI: the job writes it with the Hadoop
    FileSystem.  The same route, taken here for a file:// URI."""
    target = tmp_path / "remote" / "m.json"
    monkeypatch.setattr(contract, "local_path", lambda uri: None)
    contract.write_metrics("file://" + str(target), {"read": 3}, spark)
    assert json.loads(target.read_text()) == {"read": 3}
    with pytest.raises(contract.JobError):
        contract.write_metrics("s3a://bucket/m.json", {"read": 3})


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        validate_transactions.build_parser().parse_args(["--work", "file:///w", "--as-of", "tomorrow"])
    assert e.value.code == 2
    assert "bad arguments" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:  # --input is required by validate
        validate_transactions.build_parser().parse_args(["--work", "file:///w"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:  # unknown user arguments are not ignored
        validate_transactions.build_parser().parse_args(
            ["--input", "file:///i/r/t", "--work", "file:///w", "--as-off", "2024-01-01"]
        )
    assert e.value.code == 2


def test_missing_input_is_a_clear_failure(spark, tmp_path, capsys):
    ref = tmp_path / "reference"
    ref.mkdir()
    (ref / "accounts.csv").write_text("account_id,name,type,institution,currency\nA1,a,checking,b,EUR\n")
    rc = run_job(
        validate_transactions,
        [
            "--input",
            file_uri(tmp_path / "raw" / "nothing"),
            "--work",
            file_uri(tmp_path / "work"),
            "--reference",
            file_uri(ref),
        ],
        spark,
    )
    out = capsys.readouterr().out
    assert rc == contract.EXIT_BAD_INPUT
    assert "validate: FAILED: input not found" in out


def test_missing_reference_names_the_file(spark, tmp_path, capsys):
    raw = tmp_path / "lake" / "raw" / "transactions"
    raw.mkdir(parents=True)
    (raw / "a.csv").write_text("Date,Account,Description,Amount,Currency,Reference\n")
    rc = run_job(validate_transactions, ["--input", file_uri(raw), "--work", file_uri(tmp_path / "w")], spark)
    out = capsys.readouterr().out
    assert rc == contract.EXIT_BAD_INPUT
    assert f"reference file not found: {file_uri(tmp_path / 'lake' / 'reference')}/accounts.csv" in out


def test_put_bytes_local_and_through_hadoop(spark, tmp_path):
    target = tmp_path / "a" / "b" / "index.html"
    contract.put_bytes(spark, b"direct", file_uri(target))
    assert target.read_bytes() == b"direct"
    # the route s3a:// takes: local temp file copied with the Hadoop FileSystem API
    target2 = tmp_path / "c" / "index.html"
    contract.put_bytes(spark, b"via hadoop", file_uri(target2), force_hadoop=True)
    assert target2.read_bytes() == b"via hadoop"
    contract.put_bytes(spark, b"again", file_uri(target2), force_hadoop=True)  # overwrite
    assert target2.read_bytes() == b"again"
    assert contract.read_small_file(spark, file_uri(target2)) == b"again"
    assert contract.uri_exists(spark, file_uri(target2))
    assert not contract.uri_exists(spark, file_uri(tmp_path / "nope"))
    assert not [f for f in os.listdir(tmp_path / "c") if not f.startswith(".") and f != "index.html"]
