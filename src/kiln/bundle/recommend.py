"""The recommend kind's model folder: id maps and the seen-items index, each component's arrays.

    recommend/users.parquet, recommend/items.parquet   the id maps (code → id, as text)
    recommend/seen.npz                                 users × items training weights (SciPy sparse)
    recommend/popularity.npy                           the cold-start ranking's scores
    recommend/<i>_<learner>/<name>.npy | .npz          factor matrices, similarity tables (NumPy / SciPy)
    leaderboard.csv

Everything is read with allow_pickle=False. `FORMAT` is the hook the kind registry names for the
bundle layer (kiln.bundle.kind.ModelFormat).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kiln.errors import BundleError
from kiln.recommenders.interactions import Columns
from kiln.recommenders.model import RecommenderModel
from kiln.recommenders.registry import RECOMMENDERS

FOLDER = "recommend"
FIXED = ("users.parquet", "items.parquet", "seen.npz", "popularity.npy")


class RecommendFormat:
    """Writes and reads a `RecommenderModel` inside a bundle folder."""

    def write(self, model: RecommenderModel, root: Path) -> dict[str, Any]:
        folder = root / FOLDER
        folder.mkdir(parents=True)
        pd.DataFrame({"id": model.users.astype(str)}).to_parquet(folder / "users.parquet", index=False)
        pd.DataFrame({"id": model.items.astype(str)}).to_parquet(folder / "items.parquet", index=False)
        sp.save_npz(folder / "seen.npz", model.seen.tocsr(), compressed=True)
        np.save(folder / "popularity.npy", model.popularity, allow_pickle=False)
        components = []
        for i, (component, weight) in enumerate(model.components):
            sub = f"{FOLDER}/{i}_{component.name}"
            (root / sub).mkdir()
            files = {}
            for name, array in component.arrays().items():
                if sp.issparse(array):
                    relative = f"{sub}/{name}.npz"
                    sp.save_npz(root / relative, sp.csr_matrix(array), compressed=False)
                else:
                    relative = f"{sub}/{name}.npy"
                    np.save(root / relative, np.asarray(array), allow_pickle=False)
                files[name] = relative
            components.append({"learner": component.name, "params": _plain(component.params), "weight": weight,
                               "files": files})
        model.leaderboard_frame.to_csv(root / "leaderboard.csv", index=False)
        return {**model.manifest, "task": "recommend", "metric": model.metric, "columns": model.columns.to_dict(),
                "components": components}

    def confine(self, root: Path, manifest: dict[str, Any], *, confine: Callable[[object], Path]) -> None:
        files = manifest["files"]
        for name in FIXED:
            if f"{FOLDER}/{name}" not in files:
                raise BundleError(f"Bundle '{root}' does not list the checksum of '{FOLDER}/{name}'; the bundle is "
                                  "damaged, retrain.")
        components = manifest.get("components")
        if not isinstance(components, list) or not components:
            raise BundleError(f"Bundle '{root}' lists no recommenders; the bundle is damaged, retrain.")
        for component in components:
            if not isinstance(component, dict) or component.get("learner") not in RECOMMENDERS \
                    or not isinstance(component.get("files"), dict):
                raise BundleError(f"Bundle '{root}' names a recommender this kiln does not know; upgrade kiln or "
                                  "retrain.")
            for relative in component["files"].values():
                confine(relative)
                if relative not in files:
                    raise BundleError(f"Bundle '{root}' does not list the checksum of '{relative}'; the bundle is "
                                      "damaged, retrain.")

    def read(self, root: Path, manifest: dict[str, Any]) -> RecommenderModel:
        folder = root / FOLDER
        users = pd.read_parquet(folder / "users.parquet")["id"].to_numpy(dtype=object)
        items = pd.read_parquet(folder / "items.parquet")["id"].to_numpy(dtype=object)
        seen = sp.load_npz(folder / "seen.npz").tocsr()
        popularity = np.load(folder / "popularity.npy", allow_pickle=False)
        components = []
        for component in manifest["components"]:
            arrays = {name: (sp.load_npz(root / relative) if relative.endswith(".npz")
                             else np.load(root / relative, allow_pickle=False))
                      for name, relative in component["files"].items()}
            cls = RECOMMENDERS[component["learner"]]
            components.append((cls.restore(component["params"], arrays, len(items)), float(component["weight"])))
        c = manifest["columns"]
        leaderboard = pd.read_csv(root / "leaderboard.csv")
        return RecommenderModel(users=users, items=items, seen=seen, components=components, popularity=popularity,
                                columns=Columns(c["user"], c["item"], c.get("rating"), c.get("time")),
                                manifest=manifest, leaderboard_frame=leaderboard)


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in params.items()}


FORMAT = RecommendFormat()
