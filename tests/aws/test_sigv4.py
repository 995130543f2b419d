"""The C SigV4 signer (aws/sigv4.c, through build/sf-aws-sign) against
botocore's SigV4Auth / S3SigV4Auth, an independent implementation, on many
request shapes: reserved characters in query strings, empty and non-empty
bodies, S3 keys with spaces and unicode, session tokens, UNSIGNED-PAYLOAD
versus a hashed payload, dot segments and doubled slashes outside S3.

    .venv/bin/python -m pytest tests/aws/test_sigv4.py

The signer binary is $SF_AWS_SIGN, else <build dir>/sf-aws-sign with the
build dir $SF_BINARY_DIR or build/.
"""

import datetime
import json
import os
import pathlib
import subprocess
from unittest import mock
from urllib.parse import quote

import pytest

botocore = pytest.importorskip("botocore")
from botocore.auth import S3SigV4Auth, SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
AMZ_DATE = "20240229T235959Z"
NOW = datetime.datetime(2024, 2, 29, 23, 59, 59)


def signer_path():
    explicit = os.environ.get("SF_AWS_SIGN")
    if explicit:
        return pathlib.Path(explicit)
    build = pathlib.Path(os.environ.get("SF_BINARY_DIR", ROOT / "build"))
    return build / "sf-aws-sign"


@pytest.fixture(scope="module")
def sign():
    path = signer_path()
    if not path.exists():
        pytest.skip(f"{path} not built (cmake --build build --target sf-aws-sign)")

    def run(desc, canonical=False):
        args = [str(path)] + (["--canonical"] if canonical else [])
        out = subprocess.run(args, input=json.dumps(desc).encode(), capture_output=True, check=True, timeout=30)
        return out.stdout.decode().rstrip("\n")

    return run


def botocore_auth(desc):
    """The Authorization header botocore computes for the same request."""
    creds = Credentials(desc["access_key"], desc["secret_key"], desc.get("token"))
    url = desc["url"]
    # botocore signs params given as a dict; it encodes them itself.
    params = dict(desc["params"]) if desc["params"] else {}
    req = AWSRequest(
        method=desc["method"], url=url, params=params, headers=dict(desc["headers"]), data=desc["body"].encode()
    )
    if desc["s3"]:
        auth = S3SigV4Auth(creds, desc["service"], desc["region"])
        if desc["unsigned_payload"]:
            req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
            assert url.startswith("https")
        else:
            req.context["client_config"] = Config(s3={"payload_signing_enabled": True})
    else:
        auth = SigV4Auth(creds, desc["service"], desc["region"])
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW):
        auth.add_auth(req)
    return req.headers["Authorization"]


def describe(
    method="GET",
    url="https://example.amazonaws.com/",
    params=(),
    headers=(),
    body="",
    service="sts",
    region="us-east-1",
    token=None,
    s3=False,
    unsigned_payload=False,
    access_key="AKIDEXAMPLE",
    secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
):
    return {
        "method": method,
        "url": url,
        "params": [list(p) for p in params],
        "headers": [list(h) for h in headers],
        "body": body,
        "service": service,
        "region": region,
        "access_key": access_key,
        "secret_key": secret_key,
        "token": token,
        "amz_date": AMZ_DATE,
        "s3": s3,
        "unsigned_payload": unsigned_payload,
    }


def s3_url(bucket, key, host="s3.eu-west-1.amazonaws.com", scheme="https"):
    return f"{scheme}://{host}/{bucket}/{quote(key, safe='/~')}"


CASES = {
    # JSON 1.1 (EMR) with a body and a target header
    "emr_json": describe(
        method="POST",
        url="https://elasticmapreduce.eu-west-1.amazonaws.com/",
        service="elasticmapreduce",
        region="eu-west-1",
        body='{"ClusterId": "j-ABC"}',
        headers=[("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "ElasticMapReduce.DescribeCluster")],
    ),
    "emr_json_token": describe(
        method="POST",
        url="https://elasticmapreduce.us-east-1.amazonaws.com/",
        service="elasticmapreduce",
        body="{}",
        token="FQoGZXIvYXdzE//////////wEaD+token/with=chars",
        headers=[("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "ElasticMapReduce.ListClusters")],
    ),
    # Query protocol with a form body
    "sts_query": describe(
        method="POST",
        url="https://sts.us-east-1.amazonaws.com/",
        body="Action=GetCallerIdentity&Version=2011-06-15",
        headers=[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
    ),
    "empty_body_get": describe(
        method="GET", url="https://ec2.us-west-2.amazonaws.com/", service="ec2", region="us-west-2"
    ),
    # Query strings with reserved characters and unicode
    "query_reserved": describe(
        url="https://ec2.us-east-1.amazonaws.com/",
        service="ec2",
        params=[
            ("Action", "DescribeTags"),
            ("Filter.1.Value.1", "a b+c/d=e&f?g#h%i*j'k(l)m!n~o"),
            ("Version", "2016-11-15"),
            ("empty", ""),
            ("ümlaut", "ß€"),
        ],
    ),
    "query_sort_by_encoded_key": describe(
        url="https://ec2.us-east-1.amazonaws.com/",
        service="ec2",
        params=[("a~", "1"), ("aé", "2"), ("a b", "3"), ("a-b", "4"), ("A", "5"), ("a_", "6")],
    ),
    # Header values: whitespace collapsed, case folded names, a port in the host
    "header_whitespace": describe(
        method="POST",
        url="http://127.0.0.1:5000/",
        service="elasticmapreduce",
        body="{}",
        headers=[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "  ElasticMapReduce.RunJobFlow  "),
            ("X-Custom", "a   b\tc"),
        ],
    ),
    "default_port_dropped": describe(method="GET", url="https://sts.amazonaws.com:443/"),
    # Non-S3 paths are normalised and encoded once more
    "path_normalised": describe(url="https://example.amazonaws.com/a/./b//c/../d%20e/", service="execute-api"),
    "path_unicode_non_s3": describe(url="https://example.amazonaws.com/caf%C3%A9/x", service="execute-api"),
    # S3: paths as sent, payload hash header, UNSIGNED-PAYLOAD
    "s3_get_plain": describe(
        url=s3_url("lake", "raw/transactions/2024.csv"), service="s3", region="eu-west-1", s3=True
    ),
    "s3_key_spaces": describe(url=s3_url("lake", "raw/my file (1).csv"), service="s3", region="eu-west-1", s3=True),
    "s3_key_unicode": describe(
        url=s3_url("lake", "raw/Überweisung €/März.csv"), service="s3", region="eu-west-1", s3=True
    ),
    "s3_key_reserved": describe(
        url=s3_url("lake", "a+b=c&d;e:f@g,h$i!j*k'l(m)n"), service="s3", region="eu-west-1", s3=True
    ),
    "s3_key_dots_kept": describe(url=s3_url("lake", "a/./b//c/../d"), service="s3", region="eu-west-1", s3=True),
    "s3_put_hashed": describe(
        method="PUT",
        url=s3_url("lake", "code/abc/validate.py"),
        service="s3",
        region="eu-west-1",
        s3=True,
        body="print('hello')\n",
        headers=[("Content-Type", "text/x-python")],
    ),
    "s3_put_unsigned": describe(
        method="PUT",
        url=s3_url("lake", "tmp/run 1/x.json"),
        service="s3",
        region="eu-west-1",
        s3=True,
        unsigned_payload=True,
        body='{"a": 1}',
        headers=[("Content-Type", "application/json")],
    ),
    "s3_list_query": describe(
        url="https://lake.s3.eu-west-1.amazonaws.com/",
        service="s3",
        region="eu-west-1",
        s3=True,
        params=[
            ("list-type", "2"),
            ("prefix", "raw/my file/ü"),
            ("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="),
        ],
    ),
    "s3_delete_with_token": describe(
        method="POST",
        url="http://127.0.0.1:5000/lake/",
        service="s3",
        s3=True,
        params=[("delete", "")],
        token="IQoJb3JpZ2luX2VjEBAaCXVzLWVhc3QtMSJHMEUCIQD",
        body="<Delete><Object><Key>a b</Key></Object></Delete>",
        headers=[("Content-Type", "application/xml"), ("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==")],
    ),
    "s3_copy_source_header": describe(
        method="PUT",
        url=s3_url("lake", "runs/r1/part-0.parquet"),
        service="s3",
        region="eu-west-1",
        s3=True,
        headers=[("x-amz-copy-source", "/lake/tmp/r1/part-0.parquet")],
    ),
    "secret_with_symbols": describe(secret_key="a/b+c=d", access_key="ASIA123", token="t"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_botocore(sign, name):
    desc = CASES[name]
    assert sign(desc) == botocore_auth(desc)


def test_canonical_request_has_no_secret(sign):
    desc = CASES["emr_json_token"]
    text = sign(desc, canonical=True)
    assert desc["secret_key"] not in text
    assert text.startswith("POST\n/\n\n")


def test_changing_any_part_changes_the_signature(sign):
    base = CASES["s3_put_hashed"]
    sig = sign(base)
    for key, value in [
        ("body", "other"),
        ("region", "us-east-2"),
        ("secret_key", "x"),
        ("amz_date", "20240301T000000Z"),
        ("method", "POST"),
    ]:
        changed = dict(base, **{key: value})
        assert sign(changed) != sig, key
