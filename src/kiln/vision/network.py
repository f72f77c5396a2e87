"""A small convolutional network in plain PyTorch (CPU), saved as safetensors.

torch is the `vision` extra (`pip install 'kiln-ml[vision]'`, pinned torch==2.13.0 CPU; never
torchvision); it is imported only here and only when a network is trained or read. The network
is three 3×3 convolution blocks (batch norm, ReLU, 2×2 max pool) widening 16·w → 64·w channels,
global average pooling and one linear layer: small enough to train from scratch in seconds on two
cores, translation-tolerant enough for parts and digits.

Training (`fit_network`): Adam, 10% of the training fold held out for early stopping (patience
`PATIENCE` epochs; the best epoch's weights kept), optional augmentation — small shifts and
rotations (`augment="shift"` or `"rotate"`), plus horizontal flips (`"flip"`), only where the classes allow
them — and a deadline checked after every batch. The saved file holds tensors only
(safetensors); the architecture is rebuilt from the manifest's numbers, so reading it never
unpickles anything.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiln.errors import MissingDependencyError

PATIENCE = 4
BATCH = 64
AUGMENTS = ("none", "shift", "rotate", "flip")
# One thread: on two cores shared with the feature search (and other work) two torch threads ran an
# epoch 4-9× slower than one (measured: 1,200 32×32 images, load average 7: 1.0 s vs 9 s an epoch).
THREADS = 1


def import_torch() -> Any:
    """torch, or a one-line error naming the extra."""
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError("The image network needs PyTorch: pip install 'kiln-ml[vision]' "
                                     "(torch==2.13.0, the CPU wheel).") from exc
    return torch


def torch_available() -> bool:
    try:
        import_torch()
    except MissingDependencyError:
        return False
    return True


@dataclass(frozen=True)
class NetworkSpec:
    """What rebuilds the architecture: input channels and side, classes, width multiplier."""

    channels: int
    side: int
    n_classes: int
    width: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build(spec: NetworkSpec) -> Any:
    torch = import_torch()
    nn = torch.nn
    widths = [16 * spec.width, 32 * spec.width, 64 * spec.width]
    layers: list[Any] = []
    previous = spec.channels
    for width in widths:
        layers += [nn.Conv2d(previous, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                   nn.MaxPool2d(2)]
        previous = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(previous, spec.n_classes)]
    return nn.Sequential(*layers)


class Network:
    """One or more fitted networks (the cross-validation folds' own, averaged) that predict probabilities."""

    def __init__(self, spec: NetworkSpec, modules: list[Any]) -> None:
        self.spec = spec
        self.modules = modules
        for module in modules:
            module.eval()

    def predict_proba(self, arrays: np.ndarray) -> np.ndarray:
        """Probabilities (n × classes) of n side×side×channels arrays in [0, 1]."""
        torch = import_torch()
        if len(arrays) == 0:
            return np.zeros((0, self.spec.n_classes))
        batch = torch.from_numpy(np.ascontiguousarray(arrays.transpose(0, 3, 1, 2), dtype=np.float32))
        with torch.inference_mode(), _threads(torch):
            outputs = [torch.softmax(m(batch).double(), dim=1).numpy() for m in self.modules]
        proba = np.mean(outputs, axis=0)
        return proba / proba.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        from safetensors.torch import save_file

        tensors = {f"net{k}.{name}": value.detach().contiguous() for k, module in enumerate(self.modules)
                   for name, value in module.state_dict().items()}
        save_file(tensors, str(path))

    @classmethod
    def load(cls, path: Path, spec: NetworkSpec, count: int) -> Network:
        from safetensors.torch import load_file

        tensors = load_file(str(path))
        modules = []
        for k in range(count):
            module = build(spec)
            prefix = f"net{k}."
            module.load_state_dict({name[len(prefix):]: value for name, value in tensors.items()
                                    if name.startswith(prefix)}, strict=True)
            modules.append(module)
        return cls(spec, modules)


def _augment(torch: Any, batch: Any, mode: str, generator: Any) -> Any:
    """Random whole-pixel shifts of up to a tenth of the side (`shift`); plus rotations up to ±10° by an
    affine warp (`rotate`); plus horizontal flips (`flip`). `none` leaves the batch as it is."""
    if mode == "none":
        return batch
    n, _, side, _ = batch.shape
    reach = max(side // 10, 1)
    padded = torch.nn.functional.pad(batch, (reach, reach, reach, reach), mode="replicate")
    dx, dy = (torch.randint(0, 2 * reach + 1, (2,), generator=generator)).tolist()
    shifted = padded[:, :, dy:dy + side, dx:dx + side]  # one shift per batch: cheap, and batches differ
    if mode == "rotate":
        angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(10)
        cos, sin, zero = torch.cos(angle), torch.sin(angle), torch.zeros(n)
        theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
        grid = torch.nn.functional.affine_grid(theta, list(shifted.shape), align_corners=False)
        shifted = torch.nn.functional.grid_sample(shifted, grid, padding_mode="border", align_corners=False)
    if mode == "flip":
        flip = torch.rand(n, generator=generator) < 0.5
        shifted = shifted.clone()
        shifted[flip] = shifted[flip].flip(3)
    return shifted


def fit_network(arrays: np.ndarray, y: np.ndarray, spec: NetworkSpec, *, deadline: float, seed: int,
                augment: str = "shift", max_epochs: int = 60, lr: float = 3e-3) -> tuple[Any, dict[str, Any]]:
    """One network fitted on `arrays` (early stopping on a tenth of them); returns it and what happened."""
    torch = import_torch()
    with _threads(torch):
        return _fit(torch, arrays, y, spec, deadline=deadline, seed=seed, augment=augment, max_epochs=max_epochs,
                    lr=lr)


@contextmanager
def _threads(torch: Any) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _fit(torch: Any, arrays: np.ndarray, y: np.ndarray, spec: NetworkSpec, *, deadline: float, seed: int,
         augment: str, max_epochs: int, lr: float) -> tuple[Any, dict[str, Any]]:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_val = max(round(len(y) * 0.1), 1) if len(y) >= 20 else 0
    val, fit = order[:n_val], order[n_val:]
    x = torch.from_numpy(np.ascontiguousarray(arrays.transpose(0, 3, 1, 2), dtype=np.float32))
    target = torch.from_numpy(np.asarray(y, dtype=np.int64))
    module = build(spec)
    optimiser = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    best_loss, best_state, best_epoch, epochs, stale = math.inf, None, 0, 0, 0
    stopped = "max_epochs"
    for epoch in range(max_epochs):
        module.train()
        batches = torch.from_numpy(rng.permutation(fit))
        for start in range(0, len(batches), BATCH):
            rows = batches[start:start + BATCH]
            if len(rows) < 2:
                continue
            optimiser.zero_grad()
            loss = loss_fn(module(_augment(torch, x[rows], augment, generator)), target[rows])
            loss.backward()
            optimiser.step()
            if time.time() > deadline:
                break
        epochs = epoch + 1
        module.eval()
        if n_val:
            with torch.inference_mode():
                val_loss = float(loss_fn(module(x[val]), target[val]))
            if val_loss < best_loss - 1e-4:
                best_loss, best_epoch, stale = val_loss, epochs, 0
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                stale += 1
        if time.time() > deadline:
            stopped = "deadline"
            break
        if n_val and stale >= PATIENCE:
            stopped = "early_stopping"
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return module, {"epochs": epochs, "best_epoch": best_epoch or epochs, "stopped": stopped,
                    "val_loss": None if not math.isfinite(best_loss) else round(best_loss, 5)}
