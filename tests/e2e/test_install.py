"""`make install`, then `init` offline, with every client.

The other e2e tests get the provider from the sandbox (tfharness installs it
as `make install` does); this one runs the Makefile's own copy step
(`make install-provider`, what `make install` does after building) with the
sandbox's HOME, so the README's promise is checked for each CLI: with no CLI
configuration, no dev_overrides and no network, `init` finds
`sparkflow/sparkflow` in the implied local mirror (~/.terraform.d/plugins)
under the registry host that CLI gives the address: registry.terraform.io
for Terraform, registry.opentofu.org for OpenTofu.
"""

import os
import re
import subprocess

from conftest import finish_sandbox, make_sandbox
from tfharness import PLUGIN_HOSTS, ROOT, plugin_dir, provider_binary, provider_version

CONFIG = """\
terraform {
  required_providers {
    sparkflow = {
      source = "sparkflow/sparkflow"
    }
  }
}

provider "sparkflow" {}
"""

# Any HTTP(S) request (a registry lookup) goes to a closed port and fails.
NO_NETWORK = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
}


def test_make_install_then_offline_init(tf_client, tmp_path):
    sb = make_sandbox(tmp_path, tf_client, preinstall=False, extra_env=NO_NETWORK)
    try:
        build = provider_binary().parent
        env = dict(os.environ, HOME=str(sb.home))
        r = subprocess.run(
            ["make", "--no-print-directory", "-C", str(ROOT), "install-provider", f"BUILD={build}", f"HOME={sb.home}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, f"make install-provider failed:\n{r.stdout}{r.stderr}"
        ver = provider_version()
        for host in PLUGIN_HOSTS:
            exe = plugin_dir(sb.home, host) / f"terraform-provider-sparkflow_v{ver}"
            assert os.access(exe, os.X_OK), f"make install did not install {exe}\n{r.stdout}"

        d = sb.workdir("install", CONFIG)
        init = sb.init(d)
        host = "registry.opentofu.org" if tf_client.flavor == "tofu" else "registry.terraform.io"
        lock = (d / ".terraform.lock.hcl").read_text()
        assert f'provider "{host}/sparkflow/sparkflow"' in lock, lock
        assert re.search(rf'version\s*=\s*"{re.escape(ver)}"', lock), lock
        assert f"sparkflow/sparkflow v{ver}" in init.output, init.describe()
        r = sb.run("validate", cwd=d, timeout=120)
        assert "The configuration is valid" in r.output, r.describe()
    finally:
        finish_sandbox(sb)
