"""The image kind's model folder: the feature recipe (manifest), the tabular model and the network.

    features/              the tabular model on feature rows, exactly as the tabular kind writes one
                           (features/model/<member>/fold_<k>/..., leaderboard.csv, oof.parquet)
    network.safetensors    the fold networks' tensors (safetensors: tensors only, no pickle), when used
    pixels.skops           the pixel SVC (skops, allow-listed types only), when used
    leaderboard.csv        every trial, feature models and the network
    reference.parquet      training images' statistics with their out-of-fold outputs (the monitor's reference)

`FORMAT` is the hook the kind registry names for the bundle layer (kiln.bundle.kind.ModelFormat).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from kiln.bundle.tabular import FORMAT as TABULAR
from kiln.errors import BundleError, MissingDependencyError
from kiln.vision.features import FeatureRecipe
from kiln.vision.model import ImageModel
from kiln.vision.pixels import FILE as PIXELS
from kiln.vision.pixels import PixelSVC

FEATURES = "features"
NETWORK = "network.safetensors"


class ImageFormat:
    """Writes and reads an `ImageModel` inside a bundle folder."""

    def write(self, model: ImageModel, root: Path) -> dict[str, Any]:
        (root / FEATURES).mkdir()
        inner = TABULAR.write(model.features, root / FEATURES)
        model.leaderboard_frame.to_csv(root / "leaderboard.csv", index=False)
        if model.reference is not None:
            model.reference.to_parquet(root / "reference.parquet", index=False)
        if model.network is not None and model.network_weight > 0:
            model.network.save(root / NETWORK)
        if model.pixels is not None and model.pixel_weight > 0:
            model.pixels.save(root / PIXELS)
        features_manifest = {**model.features.manifest, **inner}
        return {"task": "image", "classes": model.classes_, "metric": model.metric,
                "features_model": features_manifest,
                "network_file": NETWORK if (root / NETWORK).exists() else None,
                "pixel_file": PIXELS if (root / PIXELS).exists() else None,
                # the pool's exponents as the model holds them (a caller may have set them after training)
                "network_weight": model.network_weight if (root / NETWORK).exists() else 0.0,
                "pixel_weight": model.pixel_weight if (root / PIXELS).exists() else 0.0,
                "feature_weight": model.feature_weight}

    def confine(self, root: Path, manifest: dict[str, Any], *, confine: Callable[[object], Path]) -> None:
        files = manifest["files"]
        inner = manifest.get("features_model")
        if not isinstance(inner, dict) or "recipe" not in manifest:
            raise BundleError(f"Bundle '{root}' has no feature model or recipe; the bundle is damaged, retrain.")
        TABULAR.confine(root / FEATURES, {**inner, "files": _inner_files(files)},
                        confine=lambda relative: confine(f"{FEATURES}/{relative}"))
        if manifest.get("network_file") is not None:
            confine(manifest["network_file"])
            if manifest["network_file"] not in files:
                raise BundleError(f"Bundle '{root}' does not list the checksum of its network; retrain.")
        if manifest.get("pixel_file") is not None:
            confine(manifest["pixel_file"])
            if manifest["pixel_file"] not in files:
                raise BundleError(f"Bundle '{root}' does not list the checksum of its pixel SVC; retrain.")
        if "leaderboard.csv" not in files:
            raise BundleError(f"Bundle '{root}' does not list the checksum of 'leaderboard.csv'; retrain.")

    def read(self, root: Path, manifest: dict[str, Any]) -> ImageModel:
        files = manifest["files"]
        inner = manifest["features_model"]
        features = TABULAR.read(root / FEATURES, {**inner, "files": _inner_files(files)})
        network = None
        if manifest.get("network_file"):
            from kiln.vision.network import Network, NetworkSpec, import_torch

            try:
                import_torch()
            except MissingDependencyError as exc:
                raise BundleError(f"Bundle '{root}' holds an image network; reading it needs PyTorch: "
                                  "pip install 'kiln-ml[vision]'.") from exc
            info = manifest["network"]
            network = Network.load(root / manifest["network_file"], NetworkSpec(**info["spec"]), int(info["count"]))
        text_columns = {"error": str, "config": str, "fold_scores": str}
        leaderboard = pd.read_csv(root / "leaderboard.csv", dtype=text_columns).fillna({"error": ""})
        reference = pd.read_parquet(root / "reference.parquet") if "reference.parquet" in files else None
        weight = float(manifest.get("network_weight") or 0.0) if network is not None else 0.0
        recipe = FeatureRecipe.from_dict(manifest["recipe"])
        pixels = None
        if manifest.get("pixel_file"):
            pixels = PixelSVC.load(root / manifest["pixel_file"], recipe.grid**2, len(manifest["classes"]),
                                   manifest["pixels"]["config"])
        pixel_weight = float(manifest.get("pixel_weight") or 0.0) if pixels is not None else 0.0
        feature_weight = manifest.get("feature_weight")
        return ImageModel(recipe, features, network, weight, leaderboard, manifest, reference, pixels=pixels,
                          pixel_weight=pixel_weight,
                          feature_weight=None if feature_weight is None else float(feature_weight))


def _inner_files(files: dict[str, str]) -> dict[str, str]:
    prefix = f"{FEATURES}/"
    return {name[len(prefix):]: digest for name, digest in files.items() if name.startswith(prefix)}


FORMAT = ImageFormat()
