"""End-to-end: `terraform query` finds SparkFlow clusters (list resources,
Terraform 1.14+) with the real CLI.

Two local clusters are made by `apply` in one directory; another directory,
whose state holds nothing, queries them as a user hunting orphans would
(a `.tfquery.hcl` with `list "sparkflow_cluster"`):
  - `terraform query -json` lists both, each with its identity ({id}) and a
    display name that says what it costs;
  - `limit` and the `name_prefix` filter are honoured, and `include_resource`
    brings the full resource object;
  - `terraform query -generate-config-out=generated.tf` writes resources and
    `import { identity = ... }` blocks that `terraform plan` imports with no
    changes.
Clients older than 1.14 have no `query`: skipped (their e2e runs elsewhere).
"""

import json
from pathlib import Path

import pytest

from pipeline_support import config
from tfharness import ROOT

EXAMPLE = ROOT / "examples" / "list-resources" / "sparkflow_cluster" / "list-resource.tfquery.hcl"

CLUSTERS = """resource "sparkflow_cluster" "a" {
  name = "orphan-qa"

  local {
    workers = 1
  }
}

resource "sparkflow_cluster" "b" {
  name = "orphan-qb"

  local {
    workers = 1
  }
}
"""


def knows_query(client) -> bool:
    major, minor = (int(x) for x in client.version.split(".")[:2])
    return client.flavor == "tf" and (major, minor) >= (1, 14)


def query_dir(sb, name: str, list_body: str = "") -> Path:
    """A directory whose state holds nothing, with one list block."""
    d = sb.workdir(name, config())
    body = "  provider = sparkflow\n" + list_body
    (d / "find.tfquery.hcl").write_text(f'list "sparkflow_cluster" "all" {{\n{body}}}\n')
    sb.init(d)
    return d


def query_json(sb, d: Path) -> tuple[list[dict], dict]:
    """The results `terraform query -json` reported, and its completion."""
    r = sb.run("query", "-json", cwd=d)
    found, complete = [], None
    for line in r.output.splitlines():
        if not line.startswith("{"):
            continue
        msg = json.loads(line)
        if msg.get("type") == "list_resource_found":
            found.append(msg["list_resource_found"])
        elif msg.get("type") == "list_complete":
            complete = msg["list_complete"]
        assert msg.get("@level") != "error", r.describe()
    assert complete is not None, r.describe()
    return found, complete


@pytest.fixture(scope="class")
def world(class_sandbox):
    sb = class_sandbox
    if not knows_query(sb.client):
        pytest.skip(f"{sb.client.id} has no `terraform query` (Terraform 1.14 or later has)")
    d = sb.workdir("owner", config(CLUSTERS))
    sb.init(d)
    r = sb.run("apply", cwd=d, timeout=600)
    assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in r.output, r.describe()
    res = sb.resources(d)
    clusters = {res[a]["name"]: res[a] for a in ("sparkflow_cluster.a", "sparkflow_cluster.b")}
    return type("World", (), {"sb": sb, "owner": d, "clusters": clusters})


class TestQuery:
    def test_query_lists_clusters_no_state_holds(self, world):
        sb = world.sb
        d = query_dir(sb, "q-all")
        found, complete = query_json(sb, d)
        assert complete["total"] == 2, complete
        got = {f["identity"]["id"]: f for f in found}
        for name, c in world.clusters.items():
            f = got[c["id"]]
            assert f["identity"] == {"id": c["id"]}
            assert f["resource_type"] == "sparkflow_cluster"
            assert f["display_name"] == f"{name} (local {c['id']}, running, 1 worker)", f

    def test_limit_is_honoured(self, world):
        sb = world.sb
        d = query_dir(sb, "q-limit", "  limit = 1\n")
        found, complete = query_json(sb, d)
        assert len(found) == 1 and complete["total"] == 1, (found, complete)
        assert found[0]["identity"]["id"] in {c["id"] for c in world.clusters.values()}

    def test_filters(self, world):
        sb = world.sb
        b = world.clusters["orphan-qb"]
        d = query_dir(sb, "q-prefix", '  config {\n    name_prefix = "orphan-qb"\n  }\n')
        found, _ = query_json(sb, d)
        assert [f["identity"]["id"] for f in found] == [b["id"]], found
        # Local clusters carry no tags, and none of them is "WAITING".
        for name, body in [("q-tags", 'tags = { team = "x" }'), ("q-states", 'states = ["WAITING"]')]:
            d = query_dir(sb, name, f"  config {{\n    {body}\n  }}\n")
            found, complete = query_json(sb, d)
            assert found == [] and complete["total"] == 0, (name, found)

    def test_registry_example_runs(self, world):
        """The documented example: its `all` block lists both clusters, its
        `finances` block (local engine, name prefix "finances") none."""
        sb = world.sb
        d = sb.workdir("q-example", config())
        (d / EXAMPLE.name).write_text(EXAMPLE.read_text())
        sb.init(d)
        found, _ = query_json(sb, d)
        assert {f["address"] for f in found} == {"list.sparkflow_cluster.all"}, found
        assert sorted(f["identity"]["id"] for f in found) == sorted(c["id"] for c in world.clusters.values()), found

    def test_unknown_engine_is_refused(self, world):
        sb = world.sb
        d = query_dir(sb, "q-bad", '  config {\n    engine = "yarn"\n  }\n')
        r = sb.run("query", cwd=d, ok=False)
        assert r.rc != 0 and "Unknown engine" in r.output and '"yarn"' in r.output, r.describe()

    def test_generated_config_imports_with_no_changes(self, world):
        sb = world.sb
        d = query_dir(sb, "q-adopt", "  include_resource = true\n")
        r = sb.run("query", "-generate-config-out=generated.tf", cwd=d)
        generated = (d / "generated.tf").read_text()
        for name, c in world.clusters.items():
            assert f'id = "{c["id"]}"' in generated, generated
            assert f'name     = "{name}"' in generated, generated
        r = sb.run("plan", "-out=adopt.tfplan", cwd=d)
        assert "Plan: 2 to import, 0 to add, 0 to change, 0 to destroy." in r.output, r.describe()
        changes = sb.show_json(d, "adopt.tfplan")["resource_changes"]
        assert len(changes) == 2
        ids = set()
        for rc in changes:
            assert rc["change"]["actions"] == ["no-op"], rc["change"]
            ids.add(rc["change"]["importing"]["identity"]["id"])
        assert ids == {c["id"] for c in world.clusters.values()}
        # Nothing was applied: the clusters stay with the directory that made them.
        assert not sb.state_has_resources(d)
