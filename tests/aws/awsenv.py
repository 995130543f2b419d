"""awsenv — what the AWS tests share: the moto handle (reset, signature
verification, IAM users, boto3 clients), static credentials, the
environment the provider gets, and a Sandbox that passes it on."""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass

from tfharness import Sandbox

REGION = "us-east-1"  # moto's EMR puts every cluster there when addressed as 127.0.0.1
MOTO_KEY, MOTO_SECRET = "testing", "testing"

VERIFY = os.environ.get("SF_AWS_VERIFY_SIGNATURES", "1") != "0"
ADMIN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
ROLE = "sparkflow-ci"  # the role the OIDC tests assume (exists in IAM, allowed everything)
ROLE_ARN = f"arn:aws:iam::123456789012:role/{ROLE}"


def _auth(on: bool) -> None:
    """moto's request authentication: SigV4 signature checked against the
    IAM/STS keys it issued, and IAM policies evaluated (in-process switch)."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if on else float("inf")
    ActionAuthenticatorMixin.request_count = 0


@dataclass
class Moto:
    host: str
    port: int
    key: str = MOTO_KEY  # the tests' own (admin) credentials
    secret: str = MOTO_SECRET
    verified: bool = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self, verify: bool = False) -> None:
        """Every backend emptied.  verify=True: then an admin IAM user (the
        tests' own key) and the role ROLE are created and signature
        verification is switched on: from then on moto rejects requests not
        signed (correctly) with keys it issued."""
        _auth(False)
        self.key, self.secret, self.verified = MOTO_KEY, MOTO_SECRET, False
        req = urllib.request.Request(self.url + "/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200, r.read()
        if verify:
            self.key, self.secret = self.iam_user("sparkflow-tests-admin")
            iam = self.client("iam")
            iam.create_role(
                RoleName=ROLE,
                AssumeRolePolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sts:AssumeRoleWithWebIdentity",
                                "Principal": {"Federated": "token.actions.githubusercontent.com"},
                            }
                        ],
                    }
                ),
            )
            iam.put_role_policy(RoleName=ROLE, PolicyName="all", PolicyDocument=ADMIN_POLICY)
            _auth(True)
            self.verified = True

    def iam_user(self, name: str) -> tuple[str, str]:
        """A new IAM user allowed everything; returns its (access key, secret)."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=ADMIN_POLICY)
        ak = iam.create_access_key(UserName=name)["AccessKey"]
        return ak["AccessKeyId"], ak["SecretAccessKey"]

    def client(
        self,
        service: str,
        endpoint: str | None = None,
        key: str | None = None,
        secret: str | None = None,
        token: str | None = None,
        retries: dict | None = None,
        region: str = REGION,
    ):
        """A boto3 client straight to moto (or to `endpoint`, e.g. the proxy),
        by default with the tests' own credentials."""
        import boto3
        from botocore.config import Config

        if key is None:
            key, secret = self.key, self.secret
        cfg = Config(
            retries=retries or {"mode": "standard", "max_attempts": 3},
            s3={"addressing_style": "path"},
            connect_timeout=5,
            read_timeout=60,
        )
        return boto3.session.Session().client(
            service,
            region_name=region,
            endpoint_url=endpoint or self.url,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=cfg,
        )


@dataclass
class Creds:
    access_key: str
    secret_key: str

    def secrets(self) -> list[str]:
        return [self.secret_key, self.access_key]


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
