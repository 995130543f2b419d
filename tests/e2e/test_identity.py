"""End-to-end: resource identities (Terraform 1.12+) with the real CLI.

One local cluster per client, made by `apply`:
  - every client: plan/apply/re-plan work as before; a client that knows
    identities (Terraform 1.12 or later, OpenTofu 1.12) stores the cluster's
    identity ({id}) in state and `terraform show -json` shows it, one that
    does not (Terraform 1.11, 1.6) stores none and notices nothing;
  - identity-aware clients: `import { identity = { id = ... } }` in another
    directory imports the running cluster, and the next plan has no
    changes; an identity that names no cluster imports nothing;
  - the primary client only (Spark runs): a one-stage pipeline's identity
    ({name, lake, output}) is stored, `import { identity = ... }` adopts it
    in another directory (one in-place update that runs nothing, then no
    changes), and moving its output moves its identity.
"""

import json
import re
import shutil
from pathlib import Path

import pytest

from pipeline_support import (
    FAST_CONF,
    FIXTURE_JOBS,
    RUN_TIMEOUT,
    config,
    events_lake,
    pipeline_block,
    plan_exitcode,
    published,
)
from tfharness import discover_clients

CLUSTER = "sparkflow_cluster.dev"
PIPELINE = "sparkflow_pipeline.fx"


def cluster_block(name="e2e-id"):
    return f"""resource "sparkflow_cluster" "dev" {{
  name = "{name}"

  local {{
    workers = 1
  }}
}}
"""


def knows_identities(client) -> bool:
    """Terraform from 1.12 on; OpenTofu 1.12 stores them too (the oldest
    OpenTofu seen doing so here)."""
    major, minor = (int(x) for x in client.version.split(".")[:2])
    return (major, minor) >= (1, 12)


def state_identity(d: Path, address: str):
    """The identity Terraform stored in terraform.tfstate, or None."""
    state = json.loads((d / "terraform.tfstate").read_text())
    rtype, rname = address.split(".")
    for r in state["resources"]:
        if r["type"] == rtype and r["name"] == rname:
            (inst,) = r["instances"]
            return inst.get("identity")
    raise AssertionError(f"{address} not in state")


def shown_identity(sb, d: Path, address: str):
    """The identity `terraform show -json` prints for a resource, or None."""
    for r in sb.show_json(d).get("values", {}).get("root_module", {}).get("resources", []):
        if r["address"] == address:
            return r.get("identity")
    raise AssertionError(f"{address} not in `terraform show -json`")


def import_block(address: str, identity: dict) -> str:
    body = "\n".join(f"    {k} = {json.dumps(v)}" for k, v in identity.items())
    return f"import {{\n  to = {address}\n  identity = {{\n{body}\n  }}\n}}\n"


@pytest.fixture(scope="class")
def world(class_sandbox):
    sb = class_sandbox
    d = sb.workdir("main", config(cluster_block()))
    sb.init(d)
    r = sb.run("apply", cwd=d, timeout=600)
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in r.output, r.describe()
    return type("World", (), {"sb": sb, "d": d, "cluster": sb.resources(d)[CLUSTER]})


def needs_identities(sb):
    if not knows_identities(sb.client):
        pytest.skip(f"{sb.client.id} does not know resource identities (Terraform 1.12 or later does)")


class TestClusterIdentity:
    def test_state_carries_identity_where_the_client_knows_it(self, world):
        sb, d = world.sb, world.d
        r = plan_exitcode(sb, d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()
        if knows_identities(sb.client):
            assert state_identity(d, CLUSTER) == {"id": world.cluster["id"]}
            assert shown_identity(sb, d, CLUSTER) == {"id": world.cluster["id"]}
        else:
            assert state_identity(d, CLUSTER) is None
            assert shown_identity(sb, d, CLUSTER) is None

    def test_import_by_identity_of_nothing(self, world):
        sb = world.sb
        needs_identities(sb)
        d = sb.workdir("nothing", config(cluster_block(), import_block(CLUSTER, {"id": "local-0123456789ab"})))
        sb.init(d)
        r = sb.run("plan", cwd=d, ok=False)
        assert "local-0123456789ab" in r.output, r.describe()
        assert not sb.state_has_resources(d)

    def test_import_by_identity_then_no_changes(self, world):
        sb, src = world.sb, world.cluster
        needs_identities(sb)
        d = sb.workdir("imported", config(cluster_block(), import_block(CLUSTER, {"id": src["id"]})))
        sb.init(d)
        r = sb.run("plan", "-out=import.tfplan", cwd=d)
        assert "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy." in r.output, r.describe()
        (rc,) = sb.show_json(d, "import.tfplan")["resource_changes"]
        assert rc["change"]["actions"] == ["no-op"], rc["change"]
        assert rc["change"]["importing"] == {"identity": {"id": src["id"]}}, rc["change"]
        try:
            r = sb.run("apply", "import.tfplan", cwd=d)
            assert "Apply complete! Resources: 1 imported, 0 added, 0 changed, 0 destroyed." in r.output, r.describe()
            assert state_identity(d, CLUSTER) == {"id": src["id"]}
            got = sb.resources(d)[CLUSTER]
            for k in ("id", "name", "master_url", "created_at", "local"):
                assert got[k] == src[k], (k, src[k], got[k])
            r = plan_exitcode(sb, d)
            assert r.rc == 0 and "No changes." in r.output, r.describe()
        finally:
            # One owner for the cluster: the first directory.
            if sb.state_has_resources(d):
                sb.run("state", "rm", CLUSTER, cwd=d)


# ---------------------------------------------------------------------------
# The pipeline: Spark runs, so the primary identity-aware client only
# ---------------------------------------------------------------------------


@pytest.fixture(scope="class")
def fx(world):
    sb = world.sb
    needs_identities(sb)
    primary = next((c for c in discover_clients() if knows_identities(c)), None)
    if primary and sb.client.path != primary.path:
        pytest.skip(f"Spark-heavy: runs on {primary.id} only")
    lake = sb.root / "fxlake"
    events_lake(lake)
    (lake / "reference" / "notes.txt").write_text("nothing\n")
    script = sb.root / "fxjobs" / "line_count.py"
    script.parent.mkdir()
    shutil.copy2(FIXTURE_JOBS / "line_count.py", script)

    def cfg(output="lines"):
        return config(
            pipeline_block(
                "fx",
                name="fx",
                cluster_id=world.cluster["id"],
                lake=lake,
                input="raw/events",
                output=output,
                stages=[{"name": "count", "script": script, "spark_conf": FAST_CONF}],
            )
        )

    d = sb.workdir("pipeline", cfg())
    sb.init(d)
    r = sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in r.output, r.describe()
    return type(
        "Fx", (), {"sb": sb, "d": d, "lake": lake, "cfg": staticmethod(cfg), "state": sb.resources(d)[PIPELINE]}
    )


@pytest.mark.once  # Spark runs: one pass of scripts/test only (conftest.py)
class TestPipelineIdentity:
    def test_state_carries_identity(self, fx):
        want = {"name": "fx", "lake": f"file://{fx.lake}", "output": "lines"}
        assert state_identity(fx.d, PIPELINE) == want
        assert shown_identity(fx.sb, fx.d, PIPELINE) == want

    def test_import_by_identity_runs_nothing(self, fx):
        sb, src = fx.sb, fx.state
        identity = {"name": "fx", "lake": f"file://{fx.lake}", "output": "lines"}
        d = sb.workdir("pipeline-imported", fx.cfg() + import_block(PIPELINE, identity))
        sb.init(d)
        try:
            r = sb.run("plan", "-out=import.tfplan", cwd=d)
            assert "Plan: 1 to import, 0 to add, 1 to change, 0 to destroy." in r.output, r.describe()
            (rc,) = sb.show_json(d, "import.tfplan")["resource_changes"]
            assert rc["change"]["actions"] == ["update"], rc["change"]
            # The published run is kept: no run is planned.
            assert rc["change"]["after"]["run_id"] == src["run_id"], rc["change"]
            assert rc["change"]["after"]["fingerprint"] == src["fingerprint"], rc["change"]
            r = sb.run("apply", "import.tfplan", cwd=d, timeout=RUN_TIMEOUT)
            assert "1 imported, 0 added, 1 changed, 0 destroyed." in r.output, r.describe()
            got = sb.resources(d)[PIPELINE]
            for k in ("id", "run_id", "fingerprint", "output_uri", "status", "catalog_database"):
                assert got[k] == src[k], (k, src[k], got[k])
            assert published(fx.lake, "lines")["run_id"] == src["run_id"]
            assert state_identity(d, PIPELINE) == identity
            r = plan_exitcode(sb, d)
            assert r.rc == 0 and "No changes." in r.output, r.describe()
        finally:
            if sb.state_has_resources(d):
                sb.run("state", "rm", PIPELINE, cwd=d)

    def test_import_where_nothing_is_published(self, fx):
        sb = fx.sb
        identity = {"name": "fx", "lake": f"file://{fx.lake}", "output": "nowhere"}
        d = sb.workdir("pipeline-nothing", fx.cfg("nowhere") + import_block(PIPELINE, identity))
        sb.init(d)
        r = sb.run("plan", cwd=d, ok=False)
        assert "Nothing to import" in r.output, r.describe()
        assert not sb.state_has_resources(d)

    def test_moving_the_output_moves_the_identity(self, fx):
        sb, d = fx.sb, fx.d
        (d / "main.tf").write_text(fx.cfg("moved"))
        r = sb.run("apply", cwd=d, timeout=RUN_TIMEOUT)
        assert "0 added, 1 changed, 0 destroyed." in r.output, r.describe()
        assert state_identity(d, PIPELINE) == {"name": "fx", "lake": f"file://{fx.lake}", "output": "moved"}
        assert re.fullmatch(r".*/moved", sb.resources(d)[PIPELINE]["output_uri"])
        r = plan_exitcode(sb, d)
        assert r.rc == 0 and "No changes." in r.output, r.describe()
