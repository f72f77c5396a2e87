"""The recommenders kiln searches, by name."""

from __future__ import annotations

from kiln.recommenders.als import ALS
from kiln.recommenders.base import Recommender
from kiln.recommenders.bpr import BPR
from kiln.recommenders.content import FeatureHybrid
from kiln.recommenders.ease import EASE
from kiln.recommenders.item_knn import ItemKNN
from kiln.recommenders.popular import MostPopular

RECOMMENDERS: dict[str, type[Recommender]] = {
    cls.name: cls for cls in (MostPopular, ItemKNN, ALS, BPR, EASE, FeatureHybrid)
}


def recommender(name: str) -> type[Recommender]:
    """The class named `name` (a bundle naming another is damaged or newer than this kiln)."""
    if name not in RECOMMENDERS:
        raise KeyError(name)
    return RECOMMENDERS[name]
