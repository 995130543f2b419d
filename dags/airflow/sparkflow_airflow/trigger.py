"""InputChangedTrigger: a pipeline's DAG starts when new input lands (local lakes).

An event trigger for an AssetWatcher.  Every `poke_interval` seconds it
fingerprints the pipeline's input (lake.py, the provider's fingerprint) and,
once the listing is the same on two polls in a row (a file still being
copied keeps changing size and mtime), compares the pipeline's fingerprint
with the one the published run recorded.  It fires when they differ —
exactly when `terraform plan` would propose a run — and not again for the
same fingerprint, so a run in progress, or one that failed, does not make it
fire again; the next file that lands does.

It fires for new *input*, not for a new configuration: the provider writes
into the spec the input's fingerprint at the time (`watch.input_fingerprint`;
its own apply runs the new configuration on that input), and an input equal
to it is no news, even when the published run does not cover it (a run the
user stopped with Ctrl-C is not restarted behind their back).

Why not FileDeleteTrigger: it fires when a file exists and then deletes it,
so it can only watch a marker somebody drops next to the data; a bank export
landing in the input folder is not such a marker, and deleting data is not
ours to do.  Comparing with the published record also means a restarted
triggerer neither misses input that landed while it was down nor re-runs a
pipeline whose published run already covers the input.

The triggerer imports this module by its class path, so the Airflow
processes run with the DAG folder on PYTHONPATH (dags/airflow/README.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from sparkflow_airflow.lake import LakeError, lake_for
from sparkflow_airflow.spec import SpecError, load_spec, pipeline_fingerprint


def poll_once(spec_path: str) -> tuple[str, str | None, str | None, str | None]:
    """(input fingerprint, pipeline fingerprint, published fingerprint,
    the spec's baseline input fingerprint) now."""
    spec = load_spec(Path(spec_path))
    lake = lake_for(spec.lake)
    input_fp = lake.fingerprint(spec.input_uri)[0]
    pub = lake.published(spec.output_uri)
    return input_fp, pipeline_fingerprint(spec, lake), pub.fingerprint if pub else None, spec.watch.input_fingerprint


class InputChangedTrigger(BaseEventTrigger):
    """Fires {"fingerprint", "published"} when the input is not covered by the published run."""

    def __init__(self, spec_path: str, poke_interval: float = 2.0) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.spec_path = spec_path
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"spec_path": self.spec_path, "poke_interval": self.poke_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        last_input: str | None = None
        fired_for: str | None = None
        input_fp: str | None
        fp: str | None
        published: str | None
        baseline: str | None
        while True:
            try:
                input_fp, fp, published, baseline = await asyncio.to_thread(poll_once, self.spec_path)
            except (LakeError, SpecError, OSError) as e:
                # Input not there yet, a spec being rewritten: not an event.
                self.log.info("sparkflow: cannot check %s yet: %s", self.spec_path, e)
                input_fp = fp = published = baseline = None
            stable = input_fp is not None and input_fp == last_input
            last_input = input_fp
            news = baseline is None or input_fp != baseline
            if stable and news and fp is not None and fp != published and fp != fired_for:
                fired_for = fp
                self.log.info("sparkflow: new input (%s; published run has %s)", fp, published)
                yield TriggerEvent({"fingerprint": fp, "published": published})  # type: ignore[no-untyped-call]
            await asyncio.sleep(self.poke_interval)
