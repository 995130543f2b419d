"""Malformed input on any RPC gives an error diagnostic or a gRPC error,
never a crash: garbage protobuf, undecodable or ill-typed msgpack, unknown
resource types, unreadable stored state.  After every abuse the provider
still answers, and (under the sanitizer build) reports nothing.

Requests are hand-encoded: protobuf and msgpack are simple enough that the
test needs neither generated stubs nor a msgpack package."""

import grpc
import pytest

from test_transport import IS_ECHO, call_ok, plugins, unary  # noqa: F401  (fixture)

pytestmark = pytest.mark.skipif(IS_ECHO, reason="needs the real provider")

SVC = "/tfplugin6.Provider/"


# ---- encoders ----------------------------------------------------------------


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, payload):
    """A length-delimited protobuf field (string, bytes or message)."""
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def int_field(num, value):
    return varint(num << 3) + varint(value)


def dynamic(msgpack=None, json=None):
    body = b""
    if msgpack is not None:
        body += field(1, msgpack)
    if json is not None:
        body += field(2, json)
    return body


def mp_str(s):
    b = s.encode()
    assert len(b) < 32
    return bytes([0xA0 | len(b)]) + b


def mp_map(pairs):
    assert len(pairs) < 16
    return bytes([0x80 | len(pairs)]) + b"".join(mp_str(k) + v for k, v in pairs)


# ---- the abuse ----------------------------------------------------------------

METHODS = [
    "GetMetadata",
    "GetProviderSchema",
    "ValidateProviderConfig",
    "ValidateResourceConfig",
    "UpgradeResourceState",
    "ConfigureProvider",
    "ReadResource",
    "PlanResourceChange",
    "ApplyResourceChange",
    "ImportResourceState",
    "ReadDataSource",
    "StopProvider",
    "MoveResourceState",
    "CallFunction",
    "GetResourceIdentitySchemas",
    "UpgradeResourceIdentity",
    "ValidateListResourceConfig",
    "ValidateActionConfig",
    "PlanAction",
]


def expect_error_or_diag(ch, method, req, needle):
    """The call either fails with a gRPC status or answers with a diagnostic
    whose text holds `needle`; the provider keeps serving either way."""
    try:
        resp = unary(ch, SVC + method, req)
    except grpc.RpcError as e:
        assert e.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED), e
    else:
        assert needle.encode() in resp, f"{method}: no diagnostic mentioning {needle!r} in {resp[:300]!r}"
    call_ok(ch)


@pytest.mark.parametrize("method", METHODS)
def test_garbage_protobuf_is_refused(plugins, method):
    p = plugins()
    ch = p.channel()
    for junk in (b"\xff\xff\xff\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x12\x05ab"):
        try:
            unary(ch, SVC + method, junk)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, e)
    call_ok(ch)
    assert p.proc.poll() is None


CLUSTER = "sparkflow_cluster"

BAD_VALUES = {
    "truncated msgpack": b"\x87\xa2id",
    "not an object": b"\x93\x01\x02\x03",
    "number where a string belongs": mp_map([("name", b"\x2a")]),
    "attribute the schema lacks": mp_map([("no_such_attribute", mp_str("x"))]),
    "deep nesting": b"\x91" * 100000,
    "huge declared length": b"\xdd\xff\xff\xff\xff",
}


@pytest.mark.parametrize("what", list(BAD_VALUES))
def test_undecodable_values_give_a_diagnostic(plugins, what):
    p = plugins()
    ch = p.channel()
    bad = dynamic(msgpack=BAD_VALUES[what])
    expect_error_or_diag(ch, "ValidateResourceConfig", field(1, CLUSTER) + field(2, bad), "could not be decoded")
    expect_error_or_diag(
        ch,
        "PlanResourceChange",
        field(1, CLUSTER) + field(2, bad) + field(3, bad) + field(4, bad),
        "could not be decoded",
    )
    expect_error_or_diag(
        ch, "ApplyResourceChange", field(1, CLUSTER) + field(2, bad) + field(3, bad), "could not be decoded"
    )
    expect_error_or_diag(ch, "ReadResource", field(1, CLUSTER) + field(2, bad), "could not be decoded")
    expect_error_or_diag(ch, "ConfigureProvider", field(2, bad), "could not be decoded")


def test_unknowns_where_terraform_never_sends_them(plugins):
    """An unknown prior state or a whole unknown block is odd but decodable:
    any answer will do, as long as the provider keeps serving."""
    p = plugins()
    ch = p.channel()
    unknown = dynamic(msgpack=b"\xd4\x00\x00")
    block = dynamic(msgpack=mp_map([("local", b"\xc7\x01\x63\x00"), ("name", mp_str("x"))]))
    for method, req in [
        ("PlanResourceChange", field(1, CLUSTER) + field(2, unknown) + field(3, block) + field(4, block)),
        ("ApplyResourceChange", field(1, CLUSTER) + field(2, unknown) + field(3, block)),
        ("ReadResource", field(1, CLUSTER) + field(2, unknown)),
    ]:
        try:
            unary(ch, SVC + method, req)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, e)
        call_ok(ch)
    assert p.proc.poll() is None


def stream(ch, method, req, timeout=10):
    """The messages of a server-streaming call (raises grpc.RpcError)."""
    return list(ch.unary_stream(method)(req, timeout=timeout))


@pytest.mark.parametrize("junk", [b"\xff\xff\xff\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x12\x05ab"])
def test_garbage_list_request_is_refused(plugins, junk):
    p = plugins()
    ch = p.channel()
    with pytest.raises(grpc.RpcError) as e:
        stream(ch, SVC + "ListResource", junk)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value
    call_ok(ch)
    assert p.proc.poll() is None


@pytest.mark.parametrize("what", list(BAD_VALUES))
def test_undecodable_list_config_gives_one_error_event(plugins, what):
    """A list config that cannot be decoded: one Event that holds only the
    diagnostic (no identity: field 1), then the stream ends."""
    p = plugins()
    ch = p.channel()
    bad = dynamic(msgpack=BAD_VALUES[what])
    (event,) = stream(ch, SVC + "ListResource", field(1, CLUSTER) + field(2, bad) + int_field(4, 10))
    assert b"could not be decoded" in event, event[:300]
    assert not event.startswith(b"\x0a"), event[:40]  # no identity
    expect_error_or_diag(ch, "ValidateListResourceConfig", field(1, CLUSTER) + field(2, bad), "could not be decoded")
    assert p.proc.poll() is None


def test_unknown_list_resource_type(plugins):
    p = plugins()
    ch = p.channel()
    (event,) = stream(ch, SVC + "ListResource", field(1, "sparkflow_nonesuch") + int_field(4, 10))
    assert b"Unknown list resource type" in event
    expect_error_or_diag(ch, "ValidateListResourceConfig", field(1, "sparkflow_nonesuch"), "Unknown list resource type")


@pytest.mark.parametrize("junk", [b"\xff\xff\xff\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x12\x05ab"])
def test_garbage_invoke_request_is_refused(plugins, junk):
    p = plugins()
    ch = p.channel()
    with pytest.raises(grpc.RpcError) as e:
        stream(ch, SVC + "InvokeAction", junk)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value
    call_ok(ch)
    assert p.proc.poll() is None


ACTION = "sparkflow_cluster_stop"


@pytest.mark.parametrize("what", list(BAD_VALUES))
def test_undecodable_action_config_gives_one_completed_error(plugins, what):
    """An action config that cannot be decoded: one Event, the Completed one
    (field 2) with the diagnostic; nothing is invoked."""
    p = plugins()
    ch = p.channel()
    bad = dynamic(msgpack=BAD_VALUES[what])
    (event,) = stream(ch, SVC + "InvokeAction", field(1, ACTION) + field(2, bad))
    assert event.startswith(b"\x12"), event[:40]  # completed, no progress
    assert b"could not be decoded" in event, event[:300]
    expect_error_or_diag(ch, "ValidateActionConfig", field(1, ACTION) + field(2, bad), "could not be decoded")
    expect_error_or_diag(ch, "PlanAction", field(1, ACTION) + field(2, bad), "could not be decoded")
    assert p.proc.poll() is None


def test_unknown_action_type(plugins):
    p = plugins()
    ch = p.channel()
    (event,) = stream(ch, SVC + "InvokeAction", field(1, "sparkflow_nonesuch"))
    assert event.startswith(b"\x12") and b"Unknown action type" in event, event[:300]
    expect_error_or_diag(ch, "ValidateActionConfig", field(1, "sparkflow_nonesuch"), "Unknown action type")
    expect_error_or_diag(ch, "PlanAction", field(1, "sparkflow_nonesuch"), "Unknown action type")


def test_unknown_resource_type(plugins):
    p = plugins()
    ch = p.channel()
    for method in (
        "ValidateResourceConfig",
        "PlanResourceChange",
        "ApplyResourceChange",
        "ReadResource",
        "ImportResourceState",
        "UpgradeResourceState",
        "UpgradeResourceIdentity",
    ):
        expect_error_or_diag(ch, method, field(1, "sparkflow_nonesuch"), "Unknown resource type")


@pytest.mark.parametrize("raw", [b"{", b"[1,2]", b'{"name": [5]}', b'{"local": "x"}', b"\xff\xfe"])
def test_unreadable_stored_state(plugins, raw):
    p = plugins()
    ch = p.channel()
    req = field(1, CLUSTER) + int_field(2, 0) + field(3, field(1, raw))
    expect_error_or_diag(ch, "UpgradeResourceState", req, "Unreadable state")


def test_state_from_a_newer_schema_is_refused(plugins):
    p = plugins()
    ch = p.channel()
    req = field(1, CLUSTER) + int_field(2, 99) + field(3, field(1, b"{}"))
    expect_error_or_diag(ch, "UpgradeResourceState", req, "newer provider")


def test_import_of_a_foreign_id(plugins):
    p = plugins()
    ch = p.channel()
    expect_error_or_diag(
        ch, "ImportResourceState", field(1, CLUSTER) + field(2, "i-0abc; rm -rf /"), "Cannot import cluster"
    )


# ---- identities (Terraform 1.12+) ----------------------------------------------


@pytest.mark.parametrize("raw", [b"{", b"[1,2]", b'{"id": [5]}', b'{"id": "x", "extra": 1}', b"\xff\xfe"])
def test_unreadable_stored_identity(plugins, raw):
    p = plugins()
    ch = p.channel()
    req = field(1, CLUSTER) + int_field(2, 0) + field(3, field(1, raw))
    expect_error_or_diag(ch, "UpgradeResourceIdentity", req, "Unreadable identity")


@pytest.mark.parametrize("version, needle", [(99, "newer provider"), (2**64 - 1, "Unknown identity version")])
def test_identity_of_another_version_is_refused(plugins, version, needle):
    """99: newer than the provider's; 2**64-1: -1 as an int64 varint."""
    p = plugins()
    ch = p.channel()
    req = field(1, CLUSTER) + int_field(2, version) + field(3, field(1, b'{"id": "local-0123456789ab"}'))
    expect_error_or_diag(ch, "UpgradeResourceIdentity", req, needle)


@pytest.mark.parametrize("what", list(BAD_VALUES))
def test_undecodable_identities_give_a_diagnostic(plugins, what):
    """An identity that does not decode as the cluster's identity type, in
    every request that carries one, next to a state that does decode."""
    p = plugins()
    ch = p.channel()
    bad = field(1, dynamic(msgpack=BAD_VALUES[what]))  # ResourceIdentityData{identity_data}
    state = dynamic(msgpack=mp_map([("id", mp_str("local-0123456789ab")), ("name", mp_str("x"))]))
    expect_error_or_diag(ch, "ImportResourceState", field(1, CLUSTER) + field(4, bad), "could not be decoded")
    expect_error_or_diag(
        ch,
        "PlanResourceChange",
        field(1, CLUSTER) + field(2, state) + field(3, state) + field(4, state) + field(8, bad),
        "could not be decoded",
    )


def test_import_of_an_empty_identity(plugins):
    p = plugins()
    ch = p.channel()
    ident = field(1, dynamic(msgpack=mp_map([("id", b"\xc0")])))  # {id: null}
    expect_error_or_diag(
        ch, "ImportResourceState", field(1, CLUSTER) + field(4, ident), "neither an id nor an identity"
    )
    ident = field(1, dynamic(msgpack=mp_map([("id", mp_str("i-0abc; rm -rf /"))])))
    expect_error_or_diag(ch, "ImportResourceState", field(1, CLUSTER) + field(4, ident), "Cannot import cluster")
