"""Fixtures for the end-to-end tests: which Terraform CLIs to run, and a
sandbox (HOME, CLI config, installed provider, cleanup) per test.

Every test that takes `tf_client` (directly or through a sandbox) runs once
per Terraform CLI found (ids like tf1.15.5, tf1.5.7, tofu1.12.6; the list
and its order: tfharness.discover_clients, restricted by SF_E2E_CLIENTS).
With SF_ASAN=1 (scripts/test asan), sanitizer reports of the provider fail
the test that produced them.

Modules (`pytestmark = pytest.mark.once`) and classes marked `once` (the
Spark- and Airflow-heavy suites: minutes of real Spark and Airflow each) run
once per `scripts/test`, in its sanitizer pass when it has one: its plain e2e
pass then sets SF_E2E_ONCE=skip."""

import os
from collections import defaultdict

import pytest

from tfharness import Sandbox, discover_clients, provider_binary

CLIENTS = discover_clients()
_TIMINGS = defaultdict(list)  # (client id, subcommand) -> [seconds]


def _record(sb, r):
    sub = next((a for a in r.argv[1:] if not a.startswith("-")), "?")
    _TIMINGS[(sb.client.id, sub)].append(r.seconds)


def pytest_configure(config):
    config.addinivalue_line("markers", "once: a slow real-service suite that scripts/test runs in one pass only")
    config.addinivalue_line("markers", "plain: needs the plain build (a release): never skipped for the sanitizer pass")


def _client_id(item):
    callspec = getattr(item, "callspec", None)
    client = callspec.params.get("tf_client") if callspec else None
    return getattr(client, "id", None)


def pytest_collection_modifyitems(config, items):
    """In scripts/test's plain pass, skip what its sanitizer pass runs anyway:
    the `once` suites (SF_E2E_ONCE=skip), and every test of a client that
    pass covers (SF_E2E_SANITIZED_CLIENTS: client ids, or `all`) unless it
    needs the plain build (`plain`).  Each test then runs once per client
    and per `scripts/test`, under the sanitizer where it can."""
    once = os.environ.get("SF_E2E_ONCE") == "skip"
    sanitized = {c for c in os.environ.get("SF_E2E_SANITIZED_CLIENTS", "").split(",") if c}
    skip_once = pytest.mark.skip(reason="slow real-service suite: this scripts/test run has it in the sanitizer pass")
    skip_client = pytest.mark.skip(reason="this scripts/test run has this client in its sanitizer pass")
    for item in items:
        if once and item.get_closest_marker("once"):
            item.add_marker(skip_once)
            continue
        client = _client_id(item)
        if client and ("all" in sanitized or client in sanitized) and not item.get_closest_marker("plain"):
            item.add_marker(skip_client)


def pytest_report_header(config):
    lines = [
        f"terraform clients: {', '.join(f'{c.id} ({c.path})' for c in CLIENTS) or 'NONE'}",
        f"provider: {provider_binary()}",
    ]
    if os.environ.get("SF_ASAN") == "1":
        lines.append("sanitizer run: provider reports fail the test")
    return lines


def pytest_terminal_summary(terminalreporter):
    if not _TIMINGS:
        return
    terminalreporter.section("terraform command timings (count, total s, max s)")
    for (cid, sub), secs in sorted(_TIMINGS.items()):
        terminalreporter.write_line(f"{cid:12} {sub:10} {len(secs):3d} {sum(secs):7.1f} {max(secs):6.1f}")


@pytest.fixture(scope="session", params=CLIENTS or [None], ids=[c.id for c in CLIENTS] or ["no-terraform"])
def tf_client(request):
    if request.param is None:
        pytest.fail("no Terraform CLI found (run scripts/bootstrap)")
    return request.param


def make_sandbox(root, client, **options):
    sb = Sandbox(root, client, **options)
    sb.on_result = _record
    return sb


def finish_sandbox(sb):
    problems = sb.cleanup()
    if problems:
        pytest.fail("cleanup found problems:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def sandbox(tf_client, tmp_path):
    """A fresh Terraform world for one test; destroyed and checked after."""
    sb = make_sandbox(tmp_path, tf_client)
    yield sb
    finish_sandbox(sb)


@pytest.fixture(scope="class")
def class_sandbox(tf_client, tmp_path_factory):
    """Like `sandbox`, shared by the steps of one test class."""
    sb = make_sandbox(tmp_path_factory.mktemp(f"lc-{tf_client.id}"), tf_client)
    yield sb
    finish_sandbox(sb)
