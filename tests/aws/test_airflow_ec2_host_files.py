"""The EC2 Airflow host's own files, without AWS: the compose file parsed
and checked, and the user data template rendered and run against a fake
root with stand-ins for dnf, systemctl, curl, aws, docker and chown on PATH
(SPARKFLOW_ROOT prefixes every path the script writes).

  test_compose_*        services (LocalExecutor + Postgres, no Celery/Redis),
                        healthchecks, no default secret, volumes, pinned images
  test_user_data_*      the lifetime guard armed first (and kept across a
                        second boot), the timer's power-off, the download and
                        sync step, secrets files 0600 with the password from
                        SSM, compose started; a failed password fetch stops it
ShellCheck of the template is scripts/lint's `scripts` check.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HOST = ROOT / "orchestrators" / "ec2"
COMPOSE = HOST / "docker-compose.yaml"
TEMPLATE = HOST / "user_data.sh.tmpl"
LONG_RUNNING = {"postgres", "api-server", "scheduler", "dag-processor", "triggerer"}


# ---- the compose file --------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_services(compose):
    services = compose["services"]
    assert set(services) == LONG_RUNNING | {"airflow-init"}
    text = json.dumps(compose).lower()  # what compose reads (comments aside)
    assert "redis" not in text and "celery" not in text
    for name in ("api-server", "scheduler", "dag-processor", "triggerer", "airflow-init"):
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:"), name
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == "/opt/sparkflow/secrets/passwords.json"
        assert "ALL_ADMINS" not in json.dumps(env)  # would switch authentication off
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
            assert services[name]["restart"] == "unless-stopped"
    assert services["airflow-init"]["command"] == ["db", "migrate"]
    assert services["api-server"]["ports"] == ["${API_PORT:?API_PORT must be set}:8080"]


def test_compose_healthchecks(compose):
    for name in LONG_RUNNING:
        hc = compose["services"][name].get("healthcheck")
        assert hc and hc["test"][0] == "CMD", name
        assert hc["interval"] and hc["retries"] >= 3, name
    assert "pg_isready" in compose["services"]["postgres"]["healthcheck"]["test"]
    assert "/api/v2/version" in " ".join(compose["services"]["api-server"]["healthcheck"]["test"])
    jobs = {"scheduler": "SchedulerJob", "dag-processor": "DagProcessorJob", "triggerer": "TriggererJob"}
    for name, job in jobs.items():
        assert job in compose["services"][name]["healthcheck"]["test"], name


def test_compose_no_default_secret(compose):
    """Every secret comes from the env file; `${VAR:?}` refuses to start
    without it (a `${VAR:-default}` or a literal would be a default)."""
    text = COMPOSE.read_text()
    refs = re.findall(r"\$\{([A-Z_]+)(:[?-])?[^}]*\}", text)
    assert refs
    for var, op in refs:
        assert op == ":?", f"${{{var}}} must be required (${{{var}:?...}}), not defaulted"
    secrets = {"POSTGRES_PASSWORD", "AIRFLOW_JWT_SECRET", "AIRFLOW_SECRET_KEY"}
    assert secrets <= {v for v, _ in refs}
    pg = compose["services"]["postgres"]["environment"]
    assert pg["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    for svc in compose["services"].values():
        for k, v in (svc.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET", k) and "FILE" not in k:
                assert str(v).startswith("${"), (k, v)


def test_compose_volumes_and_images(compose):
    assert set(compose["volumes"]) == {"postgres-db"}
    assert compose["services"]["postgres"]["volumes"] == ["postgres-db:/var/lib/postgresql/data"]
    for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
        vols = compose["services"][name]["volumes"]
        assert "./bundle:/opt/airflow/dags:ro" in vols
        assert "./secrets/passwords.json:/opt/sparkflow/secrets/passwords.json:ro" in vols
        assert "./logs:/opt/airflow/logs" in vols
    for svc in compose["services"].values():
        image = svc["image"]
        tag = image.rsplit(":", 1)[1]
        assert tag != "latest" and re.match(r"\d", tag), image
    assert compose["services"]["scheduler"]["image"].startswith("apache/airflow:3.")


# ---- the user data -------------------------------------------------------------


def render(**values) -> str:
    """As orchestrators/ec2/bundle.c renders: each placeholder becomes the
    value in single quotes."""
    text = TEMPLATE.read_text()

    def quote(m):
        return "'" + str(values[m.group(1)]).replace("'", "'\\''") + "'"

    out = re.sub(r"@@([A-Z_]+)@@", quote, text)
    assert "@@" not in out
    return out


STUB = """#!/bin/bash
echo "$(basename "$0") $*" >> "$SF_STUB_LOG"
case "$(basename "$0")" in
  curl)  # curl ... -o FILE URL
    while [ $# -gt 0 ]; do [ "$1" = -o ] && { echo fake-compose-plugin > "$2"; }; shift; done ;;
  aws)
    if [ "$1 $2" = "ssm get-parameter" ]; then printf '%s\\n' "$SF_FAKE_PASSWORD"; fi
    if [ "$1 $2" = "s3 sync" ]; then
      dest="${@: -1}"; mkdir -p "$dest"; cp -r "$SF_FAKE_BUCKET"/. "$dest"/
    fi ;;
esac
exit 0
"""


@pytest.fixture
def fake_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("dnf", "systemctl", "curl", "aws", "docker", "chown"):
        p = bindir / name
        p.write_text(STUB)
        p.chmod(0o755)
    bucket = tmp_path / "bucket"
    (bucket / "host").mkdir(parents=True)
    (bucket / "host" / "docker-compose.yaml").write_text(COMPOSE.read_text())
    (bucket / "sparkflow_dags.py").write_text("# the factory\n")
    env = {
        "PATH": f"{bindir}:/usr/bin:/bin",
        "SPARKFLOW_ROOT": str(root),
        "SF_STUB_LOG": str(tmp_path / "calls.log"),
        "SF_FAKE_PASSWORD": "pw-0123456789abcdef",
        "SF_FAKE_BUCKET": str(bucket),
        "HOME": str(tmp_path),
    }
    return root, env, tmp_path


def run_user_data(tmp_path, env, lifetime=3600) -> subprocess.CompletedProcess:
    script = tmp_path / "user_data.sh"
    script.write_text(
        render(
            REGION="eu-west-1",
            DAG_BUNDLE="s3://lake/airflow/",
            API_PORT=8080,
            AIRFLOW_USER="sparkflow",
            PASSWORD_PARAMETER="/sparkflow/airflow/x/password",
            LIFETIME_SECONDS=lifetime,
        )
    )
    return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)


def calls(tmp_path) -> list[str]:
    p = tmp_path / "calls.log"
    return p.read_text().splitlines() if p.exists() else []


def test_user_data_runs_in_fake_root(fake_root):
    root, env, tmp = fake_root
    t0 = int(time.time())
    r = run_user_data(tmp, env, lifetime=7200)
    assert r.returncode == 0, r.stdout + r.stderr
    log = calls(tmp)
    # The lifetime guard first, before anything that can fail.
    assert log.index("systemctl enable --now sparkflow-lifetime.timer") < log.index("dnf install -y docker")
    deadline = int((root / "etc/sparkflow/deadline").read_text())
    assert t0 + 7200 <= deadline <= int(time.time()) + 7200
    timer = (root / "etc/systemd/system/sparkflow-lifetime.timer").read_text()
    assert "OnUnitActiveSec=1min" in timer and "WantedBy=timers.target" in timer
    assert (
        "ExecStart=/usr/local/sbin/sparkflow-lifetime"
        in (root / "etc/systemd/system/sparkflow-lifetime.service").read_text()
    )
    # Docker and the compose plugin.
    assert "systemctl enable --now docker" in log
    plugin = root / "usr/local/lib/docker/cli-plugins/docker-compose"
    assert plugin.read_text() == "fake-compose-plugin\n" and os.access(plugin, os.X_OK)
    assert any(c.startswith("curl ") and "/docker/compose/releases/download/v2." in c for c in log)
    # Secrets: the password from SSM (decrypted), files 0600, password only there.
    assert (
        "aws ssm get-parameter --region eu-west-1 --name /sparkflow/airflow/x/password --with-decryption"
        in " ".join(log)
    )
    home = root / "opt/sparkflow"
    pw = home / "secrets/passwords.json"
    assert json.loads(pw.read_text()) == {"sparkflow": "pw-0123456789abcdef"}
    envfile = home / ".env"
    for f in (pw, envfile):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    env_vars = dict(line.split("=", 1) for line in envfile.read_text().splitlines())
    assert env_vars["AIRFLOW_USER"] == "sparkflow" and env_vars["API_PORT"] == "8080"
    assert env_vars["AWS_REGION"] == "eu-west-1"
    for k in ("POSTGRES_PASSWORD", "AIRFLOW_JWT_SECRET", "AIRFLOW_SECRET_KEY"):
        assert re.fullmatch(r"[0-9a-f]{48,64}", env_vars[k]), k
    assert "pw-0123456789abcdef" not in envfile.read_text()
    assert f"chown 50000:0 {pw} {home}/logs" in log
    # The bundle, now and every minute.
    sync = f"aws s3 sync --region eu-west-1 --delete --only-show-errors s3://lake/airflow/ {home}/bundle"
    assert log.count(sync) == 1
    assert (home / "bundle/host/docker-compose.yaml").exists()
    assert "systemctl enable --now sparkflow-sync.timer" in log
    sync_script = (root / "usr/local/sbin/sparkflow-sync").read_text()
    assert "s3 sync" in sync_script and "s3://lake/airflow/" in sync_script
    # Airflow started with the env file and the synced compose file.
    up = [c for c in log if c.startswith("docker compose")]
    assert up == [
        f"docker compose --project-directory {home} --env-file {home}/.env -f {home}/bundle/host/docker-compose.yaml up -d"
    ]
    assert "sparkflow: Airflow is up" in r.stdout


def test_user_data_lifetime_check_powers_off(fake_root):
    root, env, tmp = fake_root
    assert run_user_data(tmp, env).returncode == 0
    check = root / "usr/local/sbin/sparkflow-lifetime"
    deadline = root / "etc/sparkflow/deadline"
    (tmp / "calls.log").write_text("")
    assert subprocess.run([str(check)], env=env, timeout=30).returncode == 0
    assert "systemctl poweroff" not in calls(tmp)  # not yet
    deadline.write_text(f"{int(time.time()) - 1}\n")
    r = subprocess.run([str(check)], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "max_lifetime reached" in r.stdout
    assert calls(tmp) == ["systemctl poweroff"]


def test_user_data_keeps_deadline_across_boots(fake_root):
    root, env, tmp = fake_root
    deadline = root / "etc/sparkflow/deadline"
    assert run_user_data(tmp, env, lifetime=3600).returncode == 0
    first = deadline.read_text()
    time.sleep(1.1)
    assert run_user_data(tmp, env, lifetime=3600).returncode == 0
    assert deadline.read_text() == first


def test_user_data_stops_without_password(fake_root):
    root, env, tmp = fake_root
    env = {**env, "SF_FAKE_PASSWORD": ""}
    r = run_user_data(tmp, env)
    assert r.returncode != 0
    assert "sparkflow: FAILED" in r.stdout and "password parameter" in r.stdout
    log = calls(tmp)
    assert "systemctl enable --now sparkflow-lifetime.timer" in log  # the guard is armed anyway
    assert not [c for c in log if c.startswith("docker")]
    assert not (root / "opt/sparkflow/secrets/passwords.json").exists()


def test_user_data_passes_shellcheck():
    """(Also in scripts/lint; here so that the suite alone catches it.)"""
    sc = subprocess.run(["bash", "-c", "command -v shellcheck"], capture_output=True, text=True)
    if sc.returncode != 0:
        pytest.skip("shellcheck is not installed (scripts/bootstrap installs it)")
    r = subprocess.run(["shellcheck", "-s", "bash", str(TEMPLATE)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
