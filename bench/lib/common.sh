# shellcheck shell=bash
# common.sh — what every bench/bench_* script needs: paths, the binaries under
# test, the helper tools built once into a cache, and a scratch directory that
# is removed on exit.  Sourced, never run.
#
# Environment (all optional):
#   BENCH_PROVIDER   the SparkFlow provider binary (default build/terraform-provider-sparkflow)
#   BENCH_TERRAFORM  the Terraform CLI (default .venv/bin/terraform)
#   BENCH_JSON       where a bench writes its JSON result (bench/run sets it)
#   BENCH_QUICK=1    fewer runs (still the minimum the targets are stated for)
#   BENCH_KEEP=1     keep the scratch directory and say where it is

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SF_ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BENCH_CACHE="$BENCH_DIR/results/.cache"

bench_die() { printf 'error: %s\n' "$*" >&2; exit 1; }
bench_say() { printf '%s\n' "$*" >&2; }

# The interpreter for bench/lib/*.py (standard library only).
bench_python() {
    if [ -x "$SF_ROOT/.venv/bin/python" ]; then
        printf '%s\n' "$SF_ROOT/.venv/bin/python"
    else
        command -v python3 || bench_die "no python3"
    fi
}

# The provider version the build stamps in (CMakeLists' project VERSION).
bench_sf_version() {
    sed -n 's/^project(sparkflow VERSION \([0-9.]*\).*/\1/p' "$SF_ROOT/CMakeLists.txt"
}

bench_os_arch() {
    printf 'linux_%s\n' "$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')"
}

# Path of the SparkFlow provider binary; dies with the way to build it.
bench_provider() {
    local p="${BENCH_PROVIDER:-$SF_ROOT/build/terraform-provider-sparkflow}"
    [ -x "$p" ] || bench_die "no provider binary at $p: run 'make build' (or set BENCH_PROVIDER)"
    printf '%s\n' "$p"
}

# Path of the Terraform CLI; dies with the way to get it.
bench_terraform() {
    local t="${BENCH_TERRAFORM:-$SF_ROOT/.venv/bin/terraform}"
    [ -x "$t" ] || bench_die "no Terraform CLI at $t: run 'make bootstrap' (or set BENCH_TERRAFORM)"
    printf '%s\n' "$t"
}

# bench_build_tools: build, when their sources changed, the C handshake timer
# and the Go programs of bench/go (the reference null provider, as its release
# workflow builds it: CGO_ENABLED=0 -trimpath -ldflags "-s -w"; and
# pluginprobe).  Sets BENCH_TIMER, BENCH_REFNULL, BENCH_PROBE.
bench_build_tools() {
    mkdir -p "$BENCH_CACHE"
    BENCH_TIMER="$BENCH_CACHE/handshake_timer"
    BENCH_REFNULL="$BENCH_CACHE/terraform-provider-null"
    BENCH_PROBE="$BENCH_CACHE/pluginprobe"

    local src="$BENCH_DIR/lib/handshake_timer.c" h
    h="$(sha256sum "$src" | cut -d' ' -f1)"
    if [ ! -x "$BENCH_TIMER" ] || [ "$(cat "$BENCH_TIMER.stamp" 2>/dev/null)" != "$h" ]; then
        cc -std=c11 -O2 -Wall -Wextra -Werror -o "$BENCH_TIMER.tmp" "$src" \
            || bench_die "cannot build $src"
        mv -f "$BENCH_TIMER.tmp" "$BENCH_TIMER"
        echo "$h" > "$BENCH_TIMER.stamp"
    fi

    command -v go >/dev/null 2>&1 || bench_die "no Go toolchain: needed for the reference provider (bench/go)"
    h="$( { cd "$BENCH_DIR/go" && sha256sum go.mod go.sum ./*/*.go; go version; } | sha256sum | cut -d' ' -f1)"
    if [ ! -x "$BENCH_REFNULL" ] || [ ! -x "$BENCH_PROBE" ] \
       || [ "$(cat "$BENCH_CACHE/go.stamp" 2>/dev/null)" != "$h" ]; then
        bench_say "building the Go reference provider and probe (bench/go; first time: ~2 min)..."
        ( cd "$BENCH_DIR/go" \
          && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BENCH_REFNULL" ./nullprovider \
          && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BENCH_PROBE" ./pluginprobe ) \
            || bench_die "cannot build bench/go"
        echo "$h" > "$BENCH_CACHE/go.stamp"
    fi
}

# bench_scratch: make BENCH_SCRATCH, a directory removed when the script exits
# (kept with BENCH_KEEP=1).  Providers started by benches get TMPDIR inside it,
# so sockets a killed provider leaves behind go with it.
bench_scratch() {
    BENCH_SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/sf-bench.XXXXXX")"
    mkdir -p "$BENCH_SCRATCH/tmp"
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        trap 'bench_say "kept $BENCH_SCRATCH"' EXIT
    else
        trap 'rm -rf "$BENCH_SCRATCH"' EXIT
    fi
}
