"""Batch prediction on a Ray cluster (`kiln predict ... --ray ADDRESS`) with Ray Data.

Ray Data reads the input in blocks of about one batch, a pool of actors (each holding
the model, loaded once) predicts them with `Model.predictions_frame` (the code of
`kiln predict` without Ray, so the numbers are the same), and the predictions are
written, with order preserved, as `part-000000.parquet`, `part-000001.parquet`, ...
to a staging folder renamed to `--out` at the end: reading the parts in name order
gives the rows in input order, and a failed run leaves no half folder. When `--out`
names a file (`.csv`, `.parquet`, `.jsonl`), the parts are gathered into it in order, one
part in memory at a time, by the writer `kiln predict` uses without Ray (same columns,
same text), and the staging folder is removed.

The model travels as the bundle's bytes through Ray's object store, not as a path:
a worker on another node has neither the driver's bundle folder nor its
`models:/NAME@ALIAS` cache, and a bundle (a few MB) is copied once per node. Each
actor verifies the checksums as `kiln.load` does. The input and `--out` are paths every
node must reach (a shared folder).

Reading and writing run without a CPU reservation, so the actors own the cluster's
CPUs. The pool starts with one actor and grows to one per CPU as blocks queue up: Ray
Data's file-listing step needs a free CPU at the start, and a full pool from the first
moment would leave it none (the run then hangs; seen on a 2-CPU cluster).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from kiln.data.load import SUFFIXES
from kiln.data.write import WRITERS
from kiln.errors import InvalidDataError, InvalidOptionError, KilnError
from kiln.predict.stream import SAMPLE_ROWS, _Appender, iter_chunks

# Rows per block and per actor call: ~7 MB of AI4I input, enough to amortise the
# per-call cost (~0.1 s: the contract check and the learners' thread start-up).
BATCH_ROWS = 100_000
PART_NAME = "part-{:06d}.parquet"


def predict_on_ray(bundle: str | Path, data: str | Path, out: Path, *, address: str,
                   batch_rows: int = BATCH_ROWS) -> int:
    """Predict every row of `data` with the model bundle `bundle` (a folder or
    `models:/NAME@ALIAS`) on the Ray cluster at `address`, into `out`.

    Returns the number of rows predicted. When `out` ends in .csv, .parquet or .jsonl it
    becomes that one file, rows in input order; otherwise it is a folder that receives
    `part-NNNNNN.parquet` files whose concatenation in name order holds the predictions
    in input order.
    """
    from kiln.search.ray_runner import _connect, import_ray

    ray = import_ray()
    kind = _input_kind(data)
    _check_out(out)
    files = _bundle_files(_bundle_folder(bundle))
    owns_connection = not ray.is_initialized()
    if owns_connection:
        _connect(ray, address)
    try:
        return _run(ray, files, str(data), kind, out, batch_rows)
    finally:
        if owns_connection:
            ray.shutdown()


def _run(ray: Any, files: dict[str, bytes], data: str, kind: str, out: Path, batch_rows: int) -> int:
    from ray.data import ActorPoolStrategy

    # Blocks of about one batch: the block is the unit Ray Data spreads over the actors.
    block_bytes = int(batch_rows * _arrow_bytes_per_row(Path(data), kind)) if Path(data).is_file() else None
    with _data_context(block_bytes):
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        predictions = _read(ray, data, kind).map_batches(
            _Predictor, batch_format="pandas", batch_size=batch_rows, num_cpus=1,
            compute=ActorPoolStrategy(min_size=1, max_size=workers),
            fn_constructor_kwargs={"bundle": ray.put(files)},
        )
        staging = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
        staging.mkdir(parents=True)
        try:
            try:
                predictions.write_datasink(_ordered_sink(str(staging), batch_rows), ray_remote_args={"num_cpus": 0})
            except Exception as exc:
                raise _explain(exc, files, data) from None
            rows = _count_rows(staging)
            if is_file_out(out):
                _gather(staging, out)
            else:
                _replace(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return rows


def is_file_out(out: Path) -> bool:
    """`--out` names one file (its suffix is a format kiln writes), not a folder of parts."""
    return out.suffix.lower() in WRITERS


def _gather(parts: Path, out: Path) -> None:
    """Append the parts, in name (= input) order, to `out` in the format its suffix names;
    written to a temporary sibling renamed at the end, as `kiln predict` without Ray does."""
    import pyarrow.parquet as pq

    with _Appender(out, WRITERS[out.suffix.lower()]) as appender:
        for part in sorted(parts.glob("part-*.parquet")):
            appender.append(pq.read_table(part).to_pandas())
        appender.commit()


def _arrow_bytes_per_row(path: Path, kind: str) -> float:
    """One row's Arrow size, the measure Ray Data sizes its blocks by (pandas' deep memory counts a Python
    object per string: on pandas 2 several times Arrow's bytes, and 300,000 rows then fit one block)."""
    import pyarrow as pa

    sample = next(iter_chunks(path, kind, SAMPLE_ROWS), None)
    if sample is None or len(sample) == 0:
        return 1.0
    return float(pa.Table.from_pandas(sample, preserve_index=False).nbytes) / len(sample)


@contextmanager
def _data_context(block_bytes: int | None) -> Iterator[None]:
    """Ray Data settings for this run (order kept, no progress bars, block size, a failure
    logged once by kiln rather than by Ray Data too), restored afterwards."""
    from ray.data import DataContext

    context = DataContext.get_current()
    logger = logging.getLogger("ray.data")
    saved = (context.execution_options.preserve_order, context.enable_progress_bars,
             context.target_max_block_size, logger.level)
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    if block_bytes is not None:
        context.target_max_block_size = max(1 << 20, block_bytes)
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        (context.execution_options.preserve_order, context.enable_progress_bars,
         context.target_max_block_size) = saved[:3]
        logger.setLevel(saved[3])


def _ordered_sink(folder: str, part_rows: int) -> Any:
    """A Ray Data sink writing each write task's blocks, in the order given, to
    `part-<task index>.parquet`.

    Not `Dataset.write_parquet`: its sink hands a task's blocks to pyarrow's
    `write_dataset(use_threads=True)`, which may reorder them within the file (seen in
    2 of 6 runs on Ray 2.60; apache/arrow#26818). Write tasks are numbered in input
    order when order is preserved, so the part names sort in input order.
    """
    from ray.data import Datasink

    class OrderedParquetSink(Datasink):
        @property
        def min_rows_per_write(self) -> int:
            return part_rows

        def write(self, blocks: Any, ctx: Any) -> None:
            import pyarrow as pa
            import pyarrow.parquet as pq

            writer = None
            for block in blocks:
                table = block if isinstance(block, pa.Table) else pa.Table.from_pandas(block, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(f"{folder}/{PART_NAME.format(ctx.task_idx)}", table.schema)
                writer.write_table(table.cast(writer.schema))
            if writer is not None:
                writer.close()

    return OrderedParquetSink()


def _read(ray: Any, data: str, kind: str) -> Any:
    """A Ray dataset over `data`, read without a CPU reservation."""
    if kind == "parquet":
        return ray.data.read_parquet(data, num_cpus=0)
    if kind == "csv":
        from pyarrow import csv

        from kiln.data.load import _sniff

        encoding, delimiter = _sniff(Path(data))
        return ray.data.read_csv(data, num_cpus=0, read_options=csv.ReadOptions(encoding=encoding),
                                 parse_options=csv.ParseOptions(delimiter=delimiter))
    return ray.data.read_json(data, num_cpus=0, lines=True)


class _Predictor:
    """A Ray Data actor: unpacks the bundle once, then predicts batch after batch."""

    def __init__(self, bundle: Any) -> None:
        import ray

        from kiln.bundle import load_bundle

        with tempfile.TemporaryDirectory(prefix="kiln-bundle-") as folder:
            _unpack(ray.get(bundle), Path(folder))
            self.model = load_bundle(folder)
        # The actor holds one CPU: limit BLAS and OpenMP pools to one thread. Boosters and
        # forests keep the thread count they were trained with (a learner setting), so on
        # a node with many CPUs their actors can still oversubscribe it. Set here, not by a
        # Ray runtime environment, whose fresh worker pool cost ~20 s per run on 2 CPUs.
        from threadpoolctl import threadpool_limits

        self._threads = threadpool_limits(limits=1)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from kiln.data.load import read_table

        return self.model.predictions_frame(read_table(batch))


def _input_kind(data: str | Path) -> str:
    path = Path(data)
    if not path.exists():
        raise InvalidDataError(f"File '{path}' does not exist; check the path.")
    if path.is_dir():
        return "parquet"  # a folder of Parquet files, as Ray Data reads them
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None or path.suffix.lower() == ".json":
        raise InvalidDataError(f"File '{path.name}' cannot be read in blocks by Ray Data; use .parquet, .csv or "
                               ".jsonl (or predict without --ray).")
    return kind


def _check_out(out: Path) -> None:
    """`--out` is a file kiln writes (.csv, .parquet, .jsonl; replaced if it exists), or a folder:
    new, empty, or an earlier kiln prediction folder (replaced)."""
    if is_file_out(out):
        if out.is_dir():
            raise InvalidOptionError(f"--out '{out}' is a folder; name a new file (.csv, .parquet or .jsonl), "
                                     "or a folder without a file suffix for the Parquet parts.")
        return
    if out.exists() and not (out.is_dir() and all(_is_part(p) for p in out.iterdir())):
        raise InvalidOptionError(f"--out '{out}' exists and is not a kiln prediction folder; with --ray, --out "
                                 "names a file (.csv, .parquet or .jsonl) or a folder for the Parquet parts. "
                                 "Choose a new path.")


def _is_part(path: Path) -> bool:
    return re.fullmatch(r"part-\d{6}\.parquet", path.name) is not None


def _bundle_folder(bundle: str | Path) -> Path:
    from kiln.store.model_uri import is_registry_uri

    if is_registry_uri(str(bundle)):
        from kiln.store.registry import resolve

        return Path(resolve(str(bundle)).path)
    return Path(bundle)


def _unpack(files: dict[str, bytes], folder: Path) -> None:
    for name, content in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _bundle_files(folder: Path) -> dict[str, bytes]:
    """Every file of the bundle folder by its relative path, for the object store."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _count_rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(path).metadata.num_rows for path in folder.glob("part-*.parquet"))


def _replace(staging: Path, out: Path) -> None:
    """Move the finished folder into place; an earlier prediction folder is removed first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)


def _explain(exc: Exception, files: dict[str, bytes], data: str) -> KilnError:
    """One line for a failed run. Ray passes a worker's exception on as text only, so a
    data problem is found again here, by checking the file in chunks on this machine:
    that names the row in the whole file, as `kiln predict` without Ray does."""
    from kiln.bundle import load_bundle
    from kiln.predict.stream import check_file

    if Path(data).is_file():
        with tempfile.TemporaryDirectory(prefix="kiln-bundle-") as folder:
            _unpack(files, Path(folder))
            check_file(load_bundle(folder), data)  # raises the InvalidDataError, if that is the cause
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    last = lines[-1] if lines else type(exc).__name__
    return KilnError(f"Prediction on Ray failed: {last[:300]}")
