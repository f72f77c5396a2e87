"""The local cache of registered bundles: fetched once, whole or not at all, damaged copies replaced."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tiny_models import train_tiny

from kiln.errors import BundleError
from kiln.store.bundle_cache import cache_root, cached_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny(tmp_path_factory.mktemp("bundle") / "model")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KILN_HOME", str(tmp_path / "home"))


class Download:
    """Copies the bundle like a registry download would, counting calls; can damage the copy."""

    def __init__(self, source: Path, damage: bool = False) -> None:
        self.source, self.damage, self.calls = source, damage, 0

    def __call__(self, folder: Path) -> Path:
        self.calls += 1
        copy = Path(shutil.copytree(self.source, folder / "bundle"))
        if self.damage:
            (copy / "leaderboard.csv").write_text("damaged")
        return copy


def leftovers() -> list[str]:
    return sorted(p.name for p in cache_root().iterdir() if p.name.startswith("."))


def test_a_bundle_is_downloaded_once(bundle) -> None:
    download = Download(bundle)

    first = cached_bundle("m-1", download)
    second = cached_bundle("m-1", download)

    assert first == second == cache_root() / "m-1"
    assert download.calls == 1 and (first / "kiln.json").is_file() and leftovers() == []


def test_a_copy_that_does_not_verify_never_enters_the_cache(bundle) -> None:
    with pytest.raises(BundleError, match="does not match its checksum"):
        cached_bundle("m-2", Download(bundle, damage=True))

    assert not (cache_root() / "m-2").exists() and leftovers() == []


def test_a_damaged_cached_copy_is_fetched_again(bundle) -> None:
    download = Download(bundle)
    path = cached_bundle("m-3", download)
    (path / "leaderboard.csv").write_text("edited by hand")

    again = cached_bundle("m-3", download)

    assert download.calls == 2 and (again / "leaderboard.csv").read_bytes() == (bundle / "leaderboard.csv").read_bytes()


def test_losing_the_race_uses_the_winners_copy(bundle) -> None:
    winner = Download(bundle)

    def late(folder: Path) -> Path:
        cached_bundle("m-4", winner)  # another process finishes first, while this one downloads
        return Download(bundle)(folder)

    assert cached_bundle("m-4", late) == cache_root() / "m-4"
    assert winner.calls == 1 and leftovers() == []
