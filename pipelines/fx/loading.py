"""Where the reference rates are loaded: one dlt pipeline for the whole warehouse (the rates are no client's)."""

from __future__ import annotations

from pathlib import Path

import dlt

from pipelines.fx.settings import DATASET, PIPELINE_NAME
from pipelines.loading import warehouse_destination
from tally.settings import Settings


def rates_pipeline(settings: Settings, working_dir: Path) -> dlt.Pipeline:
    """The dlt pipeline that loads the rates into ``raw_fx``, working in ``working_dir`` (one per run)."""
    working_dir.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=str(working_dir.resolve()),
        destination=warehouse_destination(settings, staging_suffix="ecb"),
        dataset_name=DATASET,
    )
