# SparkFlow — the two commands a person needs are `make demo` and `make test`.
# Everything else here is a step of those.

VERSION   := $(shell grep -m1 -o 'sparkflow VERSION [0-9][0-9.]*' CMakeLists.txt | cut -d' ' -f3)
OS_ARCH   := linux_$(shell uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')
PLUGINDIR := $(HOME)/.terraform.d/plugins/registry.terraform.io/sparkflow/sparkflow/$(VERSION)/$(OS_ARCH)
BUILD     ?= build
JOBS      ?= $(shell nproc)

.PHONY: all bootstrap build sanitize fuzz install lint release test unit e2e demo clean

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

# Installs where `terraform init` finds providers with no network and no
# dev_overrides: the implied local mirror under $HOME/.terraform.d/plugins.
install: build
	mkdir -p $(PLUGINDIR)
	install -m 0755 $(BUILD)/terraform-provider-sparkflow $(PLUGINDIR)/terraform-provider-sparkflow_v$(VERSION)
	@echo "installed $(PLUGINDIR)/terraform-provider-sparkflow_v$(VERSION)"

# actionlint, terraform fmt/validate of the examples, docs up to date.
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

clean:
	rm -rf build build-asan build-fuzz build-release
