"""Where the provider's AWS credentials come from, through the real Terraform
CLI against moto (signature verification on: a request signed with a key
moto did not issue fails):

  test_instance_metadata          EC2 instance metadata (IMDSv2: a session token
                                  first, then the role's credentials)
  test_container_endpoint         the container endpoint (ECS, CodeBuild) with
                                  its authorization token
  test_profile_credential_source  a profile's role_arn + credential_source =
                                  Ec2InstanceMetadata: AssumeRole signed with
                                  the instance's credentials
  test_profile_role_chain         role_arn + source_profile that assumes a role
                                  in turn: two AssumeRole calls, each signed
                                  with the previous credentials

The metadata endpoints are a small HTTP server on loopback that hands out
temporary credentials moto issued.  Every test also checks that the secret
key and session token it served appear nowhere in the plan output or the
TF_LOG=trace logs.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from awsenv import ADMIN_POLICY
from test_emr_e2e import BUCKET, workdir

INSTANCE_ROLE = "sparkflow-instance"
OPS_ROLE = "sparkflow-ops"  # assumable with AssumeRole by any principal moto knows
ROLE_ARN = f"arn:aws:iam::123456789012:role/{OPS_ROLE}"


@dataclass
class Served:
    method: str
    path: str
    headers: dict


@dataclass
class MetadataServer:
    """IMDSv2 (/latest/...) and a container credentials endpoint (/creds)
    on 127.0.0.1, serving `creds` (moto-issued temporary credentials)."""

    creds: dict
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    requests: list = field(default_factory=list)

    def __post_init__(self):
        self.imds_token = secrets.token_hex(16)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: str):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self):
                server.requests.append(Served(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))

            def do_PUT(self):
                self._record()
                if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self._send(200, server.imds_token)
                return self._send(400, "")

            def do_GET(self):
                self._record()
                body = json.dumps({"Code": "Success", "Type": "AWS-HMAC", **server.creds})
                if self.path.startswith("/latest/"):
                    if self.headers.get("X-aws-ec2-metadata-token") != server.imds_token:
                        return self._send(401, "")
                    if self.path == "/latest/meta-data/iam/security-credentials/":
                        return self._send(200, INSTANCE_ROLE + "\n")
                    if self.path == f"/latest/meta-data/iam/security-credentials/{INSTANCE_ROLE}":
                        return self._send(200, body)
                elif self.path == "/creds":
                    if self.headers.get("Authorization") != server.auth_token:
                        return self._send(403, "")
                    return self._send(200, body)
                return self._send(404, "")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _temporary_creds(moto, session: str) -> dict:
    c = moto.client("sts").assume_role(RoleArn=ROLE_ARN, RoleSessionName=session)["Credentials"]
    expires = datetime.now(UTC) + timedelta(hours=1)
    return {
        "AccessKeyId": c["AccessKeyId"],
        "SecretAccessKey": c["SecretAccessKey"],
        "Token": c["SessionToken"],
        "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@pytest.fixture
def verified(moto):
    """moto checks signatures, and OPS_ROLE can be assumed (moto evaluates
    trust policies on AssumeRole)."""
    if not moto.verified:
        pytest.skip("moto does not verify signatures in this run (SF_AWS_VERIFY_SIGNATURES=0)")
    moto.client("s3").create_bucket(Bucket=BUCKET)
    iam = moto.client("iam")
    iam.create_role(
        RoleName=OPS_ROLE,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "*"}}],
            }
        ),
    )
    iam.put_role_policy(RoleName=OPS_ROLE, PolicyName="all", PolicyDocument=ADMIN_POLICY)


@pytest.fixture
def metadata(moto, verified):
    srv = MetadataServer(_temporary_creds(moto, "instance-profile"))
    yield srv
    srv.stop()


@pytest.fixture
def no_keys(aws_sandbox, monkeypatch):
    """The sandbox without static keys in its environment, and with
    Terraform's and the provider's trace logs on."""
    sb = aws_sandbox
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        sb.extra_env.pop(k, None)
    monkeypatch.setenv("SF_E2E_TF_LOG", "TRACE")
    sb.extra_env["TF_LOG"] = "TRACE"
    return sb


def _plan(sb, proxy, name: str):
    d = workdir(sb, name, proxy, pipeline=False)
    sb.init(d)
    proxy.reset_counts()
    r = sb.run("plan", cwd=d, ok=None)
    assert r.rc == 0 and "1 to add" in r.output, r.describe()
    return r


def _assert_no_leaks(sb, r, *values: str):
    texts = {"plan output": r.output}
    texts.update({f"logs/{p.name}": p.read_text(errors="replace") for p in sorted(sb.logs.iterdir()) if p.is_file()})
    leaks = [f"secret #{i} in {where}" for where, text in texts.items() for i, v in enumerate(values) if v in text]
    assert not leaks, leaks


def _identity_keys(proxy) -> set:
    calls = proxy.select("sts", "GetCallerIdentity")
    assert calls, proxy.counts()
    assert all(c.signed and c.has_token for c in calls), [(c.signed, c.has_token) for c in calls]
    return {c.access_key for c in calls}


def test_instance_metadata(no_keys, proxy, metadata):
    sb = no_keys
    sb.extra_env.pop("AWS_EC2_METADATA_DISABLED", None)
    sb.extra_env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = metadata.url
    r = _plan(sb, proxy, "imds")
    assert _identity_keys(proxy) == {metadata.creds["AccessKeyId"]}
    # IMDSv2: the session token is asked for first and sent with every read
    first = metadata.requests[0]
    assert (first.method, first.path) == ("PUT", "/latest/api/token"), metadata.requests
    gets = [q for q in metadata.requests if q.method == "GET"]
    assert gets and all(q.headers.get("x-aws-ec2-metadata-token") == metadata.imds_token for q in gets), gets
    _assert_no_leaks(sb, r, metadata.creds["SecretAccessKey"], metadata.creds["Token"], metadata.imds_token)


def test_container_endpoint(no_keys, proxy, metadata):
    sb = no_keys
    sb.extra_env.update(
        {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": metadata.url + "/creds",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": metadata.auth_token,
        }
    )
    r = _plan(sb, proxy, "container")
    assert _identity_keys(proxy) == {metadata.creds["AccessKeyId"]}
    assert [q.path for q in metadata.requests] and {q.path for q in metadata.requests} == {"/creds"}
    assert all(q.headers.get("authorization") == metadata.auth_token for q in metadata.requests)
    _assert_no_leaks(sb, r, metadata.creds["SecretAccessKey"], metadata.creds["Token"], metadata.auth_token)


def _config_file(sb, text: str) -> None:
    p = sb.root / "aws-config"
    p.write_text(text)
    sb.extra_env.update({"AWS_CONFIG_FILE": str(p), "AWS_SHARED_CREDENTIALS_FILE": str(sb.root / "no-credentials")})


def test_profile_credential_source(no_keys, proxy, metadata):
    sb = no_keys
    sb.extra_env.pop("AWS_EC2_METADATA_DISABLED", None)
    sb.extra_env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = metadata.url
    _config_file(
        sb,
        f"[profile ops]\nrole_arn = {ROLE_ARN}\ncredential_source = Ec2InstanceMetadata\n"
        "role_session_name = ops-laptop\n",
    )
    sb.extra_env["AWS_PROFILE"] = "ops"
    r = _plan(sb, proxy, "credsource")
    assume = proxy.select("sts", "AssumeRole")
    assert assume and {c.access_key for c in assume} == {metadata.creds["AccessKeyId"]}, proxy.counts()
    keys = _identity_keys(proxy)
    assert metadata.creds["AccessKeyId"] not in keys, keys  # the role's credentials, not the instance's
    _assert_no_leaks(sb, r, metadata.creds["SecretAccessKey"], metadata.creds["Token"])


def test_profile_role_chain(no_keys, proxy, moto, verified):
    sb = no_keys
    key, secret = moto.iam_user("chain-base")
    _config_file(
        sb,
        f"[profile base]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
        f"[profile admin]\nrole_arn = {ROLE_ARN}\nsource_profile = base\n"
        f"[profile deploy]\nrole_arn = {ROLE_ARN}\nsource_profile = admin\n"
        "role_session_name = deploy\n",
    )
    sb.extra_env["AWS_PROFILE"] = "deploy"
    r = _plan(sb, proxy, "chain")
    assume = proxy.select("sts", "AssumeRole")
    assert len(assume) == 2, proxy.counts()
    assert assume[0].access_key == key and not assume[0].has_token, assume[0]
    assert assume[1].access_key != key and assume[1].has_token, assume[1]
    keys = _identity_keys(proxy)
    assert key not in keys and assume[1].access_key not in keys, keys  # the last role's credentials
    _assert_no_leaks(sb, r, secret)
