"""Item features (--item-features) as vectors: numbers standardised, categories one-hot, tag lists
("Action|Comedy") one-hot per tag; rows L2-normalised so a dot product is a cosine similarity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError
from kiln.recommenders.interactions import id_keys

MAX_LEVELS = 200  # one-hot columns per categorical feature; rarer levels share none


def read_item_features(source: str | Path | pd.DataFrame, item_column: str) -> pd.DataFrame:
    """The features table indexed by item id key (one row per item, the first kept)."""
    from kiln.data.load import read_table

    table = read_table(source)
    if item_column not in table.columns:
        raise InvalidDataError(f"--item-features has no column '{item_column}' (the --item-column); add it so "
                               "each row names its item.")
    table = table.dropna(subset=[item_column])
    table.index = pd.Index(id_keys(table[item_column]))
    table = table[~table.index.duplicated(keep="first")].drop(columns=[item_column])
    if table.shape[1] == 0:
        raise InvalidDataError("--item-features holds only the item column; add feature columns (genres, price).")
    return table


def feature_matrix(table: pd.DataFrame, items: np.ndarray) -> np.ndarray:
    """items × d features in catalogue order (an item without a row is all zeros)."""
    aligned = table.reindex(id_keys(items))
    blocks: list[np.ndarray] = []
    for name in aligned.columns:
        column = aligned[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            values = column.to_numpy(dtype=np.float64)
            std = np.nanstd(values)
            z = (values - np.nanmean(values)) / (std if std > 0 else 1.0)
            blocks.append(np.nan_to_num(z)[:, None])
            continue
        text = column.astype("string").fillna("")
        tags = text.str.split(r"[|;,]") if text.str.contains(r"[|;,]").mean() > 0.2 else text.map(lambda v: [v])
        exploded = tags.explode().str.strip()
        exploded = exploded[exploded.fillna("") != ""]
        levels = exploded.value_counts().index[:MAX_LEVELS]
        if len(levels) == 0:
            continue
        onehot = pd.crosstab(exploded.index, exploded).reindex(index=aligned.index, columns=levels, fill_value=0)
        blocks.append(onehot.to_numpy(dtype=np.float64).clip(0, 1))
    if not blocks:
        raise InvalidDataError("--item-features has no usable feature column (numbers, categories or tags).")
    matrix = np.hstack(blocks)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)
