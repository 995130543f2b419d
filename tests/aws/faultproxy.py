"""faultproxy — a loopback HTTP proxy in front of moto that counts, records
and (on a configurable fraction of calls) breaks AWS API calls.

The provider under test is pointed at the proxy (its `endpoints {}` block or
AWS_ENDPOINT_URL_*); the proxy forwards every request unchanged (Host header
included, so SigV4 signatures stay valid) to the moto server and relays the
answer.  For each call it records the service, the API action, the access
key of the SigV4 credential scope (never the secret, the session token or a
web identity token: only whether a token header was present), the HTTP
status, the injected fault and monotonic timestamps — so tests can assert
"one ListSteps per poll", "calls per pipeline run", "the key moto saw on EMR
calls is the assumed-role key" and measure completion-detection latency.

Faults (chosen by a seeded random.Random, so a run is reproducible):
  "500"          HTTP 500 in the service's own error format, request NOT forwarded
  "503"          HTTP 503 (ServiceUnavailable / SlowDown), not forwarded
  "throttle"     EMR JSON: HTTP 400 __type ThrottlingException; query protocol
                 (STS): 503 Throttling; EC2: 503 RequestLimitExceeded; S3: 503 SlowDown
  "reset"        the connection is reset (RST) before the request is forwarded
  "reset_after"  the request IS forwarded and acted on by moto, then the
                 connection is reset instead of answering (the case that
                 makes a blindly retried RunJobFlow create a second cluster)

Usage:
    proxy = FaultProxy("127.0.0.1", moto_port, seed=1)
    proxy.start()                       # proxy.url -> http://127.0.0.1:<port>
    proxy.configure(rate=0.2, kinds=("500", "503", "throttle", "reset"))
    ...
    proxy.count("emr", "ListSteps"); proxy.calls (list of Call)
    proxy.before_forward = hook         # hook(call) runs before a call is forwarded
    proxy.stop()
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FAULT_KINDS = ("500", "503", "throttle", "reset", "reset_after")

_CRED_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
# Headers never recorded (they carry secrets or signatures).
_SECRET_HEADERS = {"authorization", "x-amz-security-token"}


@dataclass
class Call:
    seq: int
    t_start: float  # time.monotonic() when the request arrived
    t_end: float  # when the answer (or fault) was sent
    wall: float  # time.time() at arrival
    method: str
    path: str  # path and query as sent (S3 keys included)
    service: str  # emr, s3, sts, ec2, ... ("" if unknown)
    action: str  # RunJobFlow, ListSteps, PutObject, ...
    access_key: str | None  # from the SigV4 credential scope, None if unsigned
    region: str | None  # from the credential scope
    has_token: bool  # an X-Amz-Security-Token header (or query) was sent
    signed: bool
    status: int | None = None  # what the client got (None: connection reset)
    fault: str | None = None
    request_body: bytes = b""  # kept for EMR/EC2/IAM/SQS/Glue/Athena calls only (small JSON/form bodies)
    conditions: dict = field(default_factory=dict)  # If-Match / If-None-Match headers as sent
    response_body: bytes = b""  # kept for EMR calls only

    def json_body(self) -> dict:
        try:
            return json.loads(self.request_body or b"{}")
        except ValueError:
            return {}


def _s3_action(method: str, path: str, query: dict, headers) -> str:
    """The S3 API operation of a REST request (path-style addressing)."""
    parts = [p for p in path.split("/", 2)[1:] if p != ""]
    has_key = len(parts) >= 2 and parts[1] != ""
    q = set(query)
    if method == "GET":
        if not parts:
            return "ListBuckets"
        if has_key:
            if "uploadId" in q:
                return "ListParts"
            if "tagging" in q:
                return "GetObjectTagging"
            return "GetObject"
        if "list-type" in q:
            return "ListObjectsV2"
        if "uploads" in q:
            return "ListMultipartUploads"
        if "versions" in q:
            return "ListObjectVersions"
        if "location" in q:
            return "GetBucketLocation"
        for sub in ("tagging", "policy", "versioning", "lifecycle", "acl", "encryption"):
            if sub in q:
                return "GetBucket" + sub.capitalize()
        return "ListObjects"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "PUT":
        if not has_key:
            return "PutBucketTagging" if "tagging" in q else "CreateBucket"
        if "partNumber" in q and "uploadId" in q:
            return "UploadPartCopy" if headers.get("x-amz-copy-source") else "UploadPart"
        if "tagging" in q:
            return "PutObjectTagging"
        return "CopyObject" if headers.get("x-amz-copy-source") else "PutObject"
    if method == "POST":
        if "delete" in q:
            return "DeleteObjects"
        if "uploads" in q:
            return "CreateMultipartUpload"
        if "uploadId" in q:
            return "CompleteMultipartUpload"
        return "PostObject"
    if method == "DELETE":
        if has_key:
            return "AbortMultipartUpload" if "uploadId" in q else "DeleteObject"
        return "DeleteBucket"
    return method


def classify(method: str, raw_path: str, headers, body: bytes) -> tuple[str, str, str | None, str | None, bool, bool]:
    """(service, action, access_key, region, has_token, signed) of a request."""
    sp = urlsplit(raw_path)
    query = parse_qs(sp.query, keep_blank_values=True)
    auth = headers.get("Authorization", "") or ""
    m = _CRED_RE.search(auth)
    access_key = region = None
    service = ""
    signed = False
    if m:
        access_key, region, service = m.group(1), m.group(3), m.group(4)
        signed = True
    elif "X-Amz-Credential" in query:  # presigned URL
        parts = query["X-Amz-Credential"][0].split("/")
        if len(parts) >= 5:
            access_key, region, service = parts[0], parts[2], parts[3]
            signed = True
    has_token = bool(headers.get("X-Amz-Security-Token")) or "X-Amz-Security-Token" in query
    target = headers.get("X-Amz-Target", "") or ""
    if target:
        prefix, _, action = target.partition(".")
        if not service:
            service = {"ElasticMapReduce": "elasticmapreduce"}.get(prefix, prefix.lower())
        service = "emr" if service in ("elasticmapreduce", "emr") else service
        return service, action, access_key, region, has_token, signed
    form = {}
    ctype = (headers.get("Content-Type", "") or "").lower()
    if method == "POST" and "x-www-form-urlencoded" in ctype:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    action = (form.get("Action") or query.get("Action") or [""])[0]
    if action:
        if not service:
            service = "sts" if action.startswith(("AssumeRole", "GetCallerIdentity", "GetSessionToken")) else "ec2"
        return service, action, access_key, region, has_token, signed
    if service in ("elasticmapreduce",):
        service = "emr"
    if service in ("", "s3"):
        return "s3", _s3_action(method, sp.path, query, headers), access_key, region, has_token, signed
    return service, method, access_key, region, has_token, signed


def _error(service: str, kind: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of an injected error, in the format the
    service really answers with."""
    rid = str(uuid.uuid4())
    if service == "emr":
        typ, status, msg = {
            "500": ("InternalServerError", 500, "Internal error (injected)"),
            "503": ("ServiceUnavailable", 503, "Service unavailable (injected)"),
            "throttle": ("ThrottlingException", 400, "Rate exceeded (injected)"),
        }[kind]
        return status, "application/x-amz-json-1.1", json.dumps({"__type": typ, "message": msg}).encode()
    if service == "s3":
        code, status, msg = {
            "500": ("InternalError", 500, "We encountered an internal error. Please try again. (injected)"),
            "503": ("ServiceUnavailable", 503, "Service unavailable (injected)"),
            "throttle": ("SlowDown", 503, "Please reduce your request rate. (injected)"),
        }[kind]
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{msg}</Message><RequestId>{rid}</RequestId></Error>"
        )
        return status, "application/xml", body.encode()
    if service == "ec2":
        code, status = {
            "500": ("InternalError", 500),
            "503": ("Unavailable", 503),
            "throttle": ("RequestLimitExceeded", 503),
        }[kind]
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
            f"<Message>injected</Message></Error></Errors><RequestID>{rid}</RequestID></Response>"
        )
        return status, "text/xml", body.encode()
    # query protocol (STS, IAM)
    code, status, typ = {
        "500": ("InternalFailure", 500, "Receiver"),
        "503": ("ServiceUnavailable", 503, "Receiver"),
        "throttle": ("Throttling", 400 if service == "iam" else 503, "Sender"),
    }[kind]
    body = (
        f"<ErrorResponse><Error><Type>{typ}</Type><Code>{code}</Code>"
        f"<Message>Rate exceeded (injected)</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"
    )
    return status, "text/xml", body.encode()


_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, fmt, *args):  # quiet
        pass

    def _reset(self):
        """Abort the connection with a TCP RST (SO_LINGER 0)."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def _handle(self):
        proxy: FaultProxy = self.server.proxy
        t0, wall = time.monotonic(), time.time()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked()
        service, action, akid, region, has_token, signed = classify(self.command, self.path, self.headers, body)
        call = Call(
            seq=0,
            t_start=t0,
            t_end=t0,
            wall=wall,
            method=self.command,
            path=self.path,
            service=service,
            action=action,
            access_key=akid,
            region=region,
            has_token=has_token,
            signed=signed,
            request_body=body
            if service in ("emr", "ec2", "iam", "sqs", "glue", "athena") and len(body) < 65536
            else b"",
        )
        call.conditions = {k: v for k, v in self.headers.items() if k.lower() in ("if-match", "if-none-match")}
        if proxy.before_forward:
            proxy.before_forward(call)
        fault = proxy._decide(call)
        call.fault = fault
        if fault == "reset":
            call.t_end = time.monotonic()
            proxy._record(call)
            self._reset()
            return
        if fault in ("500", "503", "throttle"):
            status, ctype, payload = _error(service, fault)
            call.status = status
            call.t_end = time.monotonic()
            proxy._record(call)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return
        # forward to moto, Host header unchanged (it is part of the signature)
        conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=300)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() in _HOP or k.lower() == "content-length":
                    continue
                conn.putheader(k, v)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            payload = resp.read()
            status, rheaders = resp.status, resp.getheaders()
        except OSError as e:
            status, rheaders, payload = 502, [("Content-Type", "text/plain")], f"proxy: {e}".encode()
        finally:
            conn.close()
        if fault == "reset_after":
            call.t_end = time.monotonic()
            proxy._record(call)
            self._reset()
            return
        call.status = status
        if service == "emr" and len(payload) < 1 << 20:
            call.response_body = payload
        # recorded before the answer goes out: once a client has its answer,
        # the call is in proxy.calls
        call.t_end = time.monotonic()
        proxy._record(call)
        self.send_response(status)
        for k, v in rheaders:
            if k.lower() in _HOP or k.lower() in ("content-length", "server", "date"):
                continue
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _read_chunked(self) -> bytes:
        out = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return out
            out += self.rfile.read(size)
            self.rfile.readline()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy


@dataclass
class FaultProxy:
    upstream_host: str
    upstream_port: int
    seed: int = 0
    host: str = "127.0.0.1"
    rate: float = 0.0
    kinds: tuple = ("500", "503", "throttle", "reset")
    # only calls whose (service, action) passes this predicate may get a fault
    eligible: object = None
    # called with each Call before it is decided and forwarded (a test
    # interleaves another client's requests at that moment)
    before_forward: object = None
    calls: list = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._forced: list = []  # [(predicate, kind, remaining)]

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._server = _Server((self.host, 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="faultproxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(10)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- configuration ------------------------------------------------------------
    def configure(self, rate: float | None = None, kinds=None, seed: int | None = None, eligible=None):
        with self._lock:
            if rate is not None:
                self.rate = rate
            if kinds is not None:
                bad = set(kinds) - set(FAULT_KINDS)
                assert not bad, f"unknown fault kinds {bad}"
                self.kinds = tuple(kinds)
            if seed is not None:
                self._rng = random.Random(seed)
            if eligible is not None:
                self.eligible = eligible

    def force(self, kind: str, service: str | None = None, action: str | None = None, times: int = 1):
        """Inject `kind` on the next `times` calls matching service/action,
        whatever the rate."""
        assert kind in FAULT_KINDS

        def pred(c, s=service, a=action):
            return (s is None or c.service == s) and (a is None or c.action == a)

        with self._lock:
            self._forced.append([pred, kind, times])

    def clear_forced(self) -> None:
        """Drop what force() queued and has not injected yet."""
        with self._lock:
            self._forced = []

    def reset_counts(self) -> None:
        with self._lock:
            self.calls = []

    def _decide(self, call: Call) -> str | None:
        with self._lock:
            for f in self._forced:
                if f[2] > 0 and f[0](call):
                    f[2] -= 1
                    return f[1]
            if self.rate <= 0:
                return None
            if self.eligible is not None and not self.eligible(call):
                return None
            if self._rng.random() < self.rate:
                return self._rng.choice(self.kinds)
            return None

    def _record(self, call: Call) -> None:
        with self._lock:
            call.seq = len(self.calls)
            self.calls.append(call)

    # -- reading --------------------------------------------------------------------
    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)

    def count(
        self,
        service: str | None = None,
        action: str | None = None,
        since: float | None = None,
        until: float | None = None,
        faulted: bool | None = None,
    ) -> int:
        return len(self.select(service, action, since, until, faulted))

    def select(self, service=None, action=None, since=None, until=None, faulted=None) -> list[Call]:
        out = []
        for c in self.snapshot():
            if service is not None and c.service != service:
                continue
            if action is not None and c.action != action:
                continue
            if since is not None and c.t_start < since:
                continue
            if until is not None and c.t_start > until:
                continue
            if faulted is not None and (c.fault is not None) != faulted:
                continue
            out.append(c)
        return out

    def counts(self, since=None, until=None) -> dict[str, int]:
        """{"emr.ListSteps": n, ...} of every call (faulted ones included)."""
        out: dict[str, int] = {}
        for c in self.select(since=since, until=until):
            k = f"{c.service}.{c.action}"
            out[k] = out.get(k, 0) + 1
        return dict(sorted(out.items()))

    def faults(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.snapshot():
            if c.fault:
                out[c.fault] = out.get(c.fault, 0) + 1
        return out

    def dump(self, path) -> None:
        """The call log as JSON lines (a failing test's artefact)."""
        with open(path, "w") as f:
            for c in self.snapshot():
                f.write(
                    json.dumps(
                        {
                            "seq": c.seq,
                            "t": round(c.t_start, 3),
                            "service": c.service,
                            "action": c.action,
                            "status": c.status,
                            "fault": c.fault,
                            "key": c.access_key,
                            "path": c.path[:200],
                        }
                    )
                    + "\n"
                )

    def access_keys(self, service: str | None = None) -> set[str]:
        return {c.access_key for c in self.select(service) if c.access_key}
