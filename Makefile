# SparkFlow — the two commands a person needs are `make demo` and `make test`.
# Everything else here is a step of those.

VERSION   := $(shell grep -m1 -o 'sparkflow VERSION [0-9][0-9.]*' CMakeLists.txt | cut -d' ' -f3)
OS_ARCH   := linux_$(shell uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')
# The implied local mirror both CLIs search with no CLI config (no network, no
# dev_overrides).  The source address sparkflow/sparkflow means
# registry.terraform.io/sparkflow/sparkflow to Terraform and
# registry.opentofu.org/sparkflow/sparkflow to OpenTofu: one copy per host.
PLUGINS   := $(HOME)/.terraform.d/plugins
HOSTS     := registry.terraform.io registry.opentofu.org
BUILD     ?= build
JOBS      ?= $(shell nproc)

.PHONY: all bootstrap build sanitize fuzz install install-provider lint release test unit e2e demo demo-airflow clean

all: build

bootstrap:
	scripts/bootstrap

# The bootstrap is idempotent and quick once done; it makes `make install`
# work on a fresh clone.
build: bootstrap
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

sanitize: bootstrap
	cmake -S . -B build-asan -DSANITIZE=ON >/dev/null
	cmake --build build-asan -j$(JOBS)

fuzz: bootstrap
	CC=clang cmake -S . -B build-fuzz -DFUZZ=ON >/dev/null && cmake --build build-fuzz -j$(JOBS)

# Builds, then installs where `terraform init` and `tofu init` find the
# provider offline (PLUGINS, above).
install: build
	@$(MAKE) --no-print-directory install-provider

# The copy alone, from $(BUILD) as it is (tests/e2e/test_install.py runs it
# with a sandbox's HOME).
install-provider:
	@test -x $(BUILD)/terraform-provider-sparkflow || { echo "no $(BUILD)/terraform-provider-sparkflow: run make build" >&2; exit 1; }
	@for host in $(HOSTS); do \
	    dir=$(PLUGINS)/$$host/sparkflow/sparkflow/$(VERSION)/$(OS_ARCH); \
	    mkdir -p $$dir && \
	    install -m 0755 $(BUILD)/terraform-provider-sparkflow $$dir/terraform-provider-sparkflow_v$(VERSION) && \
	    echo "installed $$dir/terraform-provider-sparkflow_v$(VERSION)" || exit 1; \
	done

# actionlint, ShellCheck, ruff + mypy, clang-format, terraform fmt/validate of
# the examples, docs up to date.
lint: build
	scripts/lint

# Release artifacts for this machine's arch in build-release/dist/ (zip, manifest,
# SHA256SUMS, and its signature when SPARKFLOW_GPG_KEY_ID is set).
release: bootstrap
	scripts/release

# TEST_STEPS narrows scripts/test to some of its steps (default: all).
test:
	scripts/test $(TEST_STEPS)

demo:
	scripts/demo

# The same, the pipeline run through a local Airflow (examples/airflow-local).
demo-airflow:
	scripts/demo-airflow

clean:
	rm -rf build build-asan build-fuzz build-release
