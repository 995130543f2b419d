"""End-to-end: `terraform query` finds SparkFlow's local Airflow hosts (list
"sparkflow_airflow", Terraform 1.14+) with the real CLI and a real Airflow 3.

One local Airflow (default work_dir, so under the sandbox's HOME) is made by
`apply` in one directory; another directory, whose state holds nothing,
queries it as a user hunting orphans would:
  - `terraform query -json` lists it with its identity ({id}) and a display
    name that says what it runs; with `include_resource` the object is the
    imported one, the password left out (and printed nowhere);
  - `name_prefix`, `states`, `tags` and `host` filter, and an unknown `host`
    is refused;
  - `terraform query -generate-config-out=generated.tf` writes a resource and
    an `import { identity = ... }` block that `terraform plan` imports with
    no changes.
One Airflow start costs 10-35 s: one host for the whole module, which runs
once per scripts/test pass (conftest.py), on Terraform 1.14+ only.
"""

import json
import re

import pytest

from pipeline_support import config

pytestmark = pytest.mark.once  # conftest.py: one pass per scripts/test run

NAME = "orphan-af"
AIRFLOW = f"""resource "sparkflow_airflow" "af" {{
  name = "{NAME}"
}}
"""


def knows_query(client) -> bool:
    major, minor = (int(x) for x in client.version.split(".")[:2])
    return client.flavor == "tf" and (major, minor) >= (1, 14)


def query_dir(sb, name: str, list_body: str = ""):
    """A directory whose state holds nothing, with one list block."""
    d = sb.workdir(name, config())
    body = "  provider = sparkflow\n" + list_body
    (d / "find.tfquery.hcl").write_text(f'list "sparkflow_airflow" "all" {{\n{body}}}\n')
    sb.init(d)
    return d


def query_json(sb, d) -> tuple[list[dict], dict, str]:
    """The results `terraform query -json` reported, its completion, its output."""
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
    return found, complete, r.output


@pytest.fixture(scope="class")
def world(class_sandbox):
    sb = class_sandbox
    if not knows_query(sb.client):
        pytest.skip(f"{sb.client.id} has no `terraform query` (Terraform 1.14 or later has)")
    d = sb.workdir("owner", config(AIRFLOW))
    sb.init(d)
    r = sb.run("apply", cwd=d, timeout=600)
    assert "Apply complete! Resources: 1 added" in r.output, r.describe()
    host = sb.resources(d)["sparkflow_airflow.af"]
    return type("World", (), {"sb": sb, "owner": d, "host": host})


class TestQueryAirflow:
    def test_lists_the_host_no_state_holds(self, world):
        sb, host = world.sb, world.host
        d = query_dir(sb, "q-all", "  include_resource = true\n")
        found, complete, output = query_json(sb, d)
        assert complete["total"] == 1, complete
        (f,) = found
        assert f["identity"] == {"id": host["id"]} and f["resource_type"] == "sparkflow_airflow", f
        port = host["details"]["api_port"]
        assert f["display_name"] == f"{NAME} (local {host['id']}, running, api 127.0.0.1:{port})", f
        obj = f["resource_object"]
        for k in ("id", "name", "url", "user", "created_at", "airflow_version", "details"):
            assert obj[k] == host[k], (k, obj[k], host[k])
        assert obj["local"]["work_dir"] == host["details"]["work_dir"], obj
        assert obj["password"] is None, obj
        assert host["password"] not in output

    def test_filters(self, world):
        sb, host = world.sb, world.host
        for name, body, want in [
            ("q-prefix", 'name_prefix = "orphan-"', [host["id"]]),
            ("q-local", 'host = "local"', [host["id"]]),
            ("q-other", 'name_prefix = "finances"', []),
            ("q-states", 'states = ["stopped"]', []),
            ("q-tags", 'tags = { team = "x" }', []),  # local hosts carry no tags
        ]:
            d = query_dir(sb, name, f"  config {{\n    {body}\n  }}\n")
            found, _, _ = query_json(sb, d)
            assert [f["identity"]["id"] for f in found] == want, (body, found)

    def test_unknown_host_kind_is_refused(self, world):
        sb = world.sb
        d = query_dir(sb, "q-bad", '  config {\n    host = "k8s"\n  }\n')
        r = sb.run("query", cwd=d, ok=False)
        assert r.rc != 0 and "Unknown Airflow host kind" in r.output and '"k8s"' in r.output, r.describe()

    def test_generated_config_imports_with_no_changes(self, world):
        sb, host = world.sb, world.host
        d = query_dir(sb, "q-adopt")
        sb.run("query", "-generate-config-out=generated.tf", cwd=d)
        generated = (d / "generated.tf").read_text()
        assert f'id = "{host["id"]}"' in generated, generated
        assert re.search(rf'name\s+= "{NAME}"', generated), generated
        assert host["password"] not in generated
        r = sb.run("plan", "-out=adopt.tfplan", cwd=d)
        assert "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy." in r.output, r.describe()
        (rc,) = sb.show_json(d, "adopt.tfplan")["resource_changes"]
        assert rc["change"]["actions"] == ["no-op"], rc["change"]
        assert rc["change"]["importing"] == {"identity": {"id": host["id"]}}
        # Nothing was applied: the host stays with the directory that made it.
        assert not sb.state_has_resources(d)
