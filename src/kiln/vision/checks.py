"""Coded checks of a labelled image set, run by `kiln profile --task image` and before `kiln train`.

Same shape as the table checks (kiln.data.checks.Finding): a code, a severity, what was found with
numbers, one sentence of advice; `--ignore CODE` silences one. Errors stop training.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kiln.data.checks import Finding
from kiln.errors import InvalidOptionError


@dataclass(frozen=True)
class ImageCheck:
    code: str
    title: str
    severity: str
    advice: str


IMAGE_CHECKS: dict[str, ImageCheck] = {c.code: c for c in (
    ImageCheck("IM001", "Fewer than two classes", "error",
               "Add a folder per class (root/<class>/<file>); a classifier needs at least two."),
    ImageCheck("IM002", "Class too small for cross-validation", "error",
               "Add images to that class (at least 2; 5 for 5-fold CV) or merge it with another."),
    ImageCheck("IM003", "Class with fewer images than the folds", "warning",
               "kiln uses fewer folds; add images to that class for steadier scores."),
    ImageCheck("IM004", "Severe class imbalance", "warning",
               "Collect more of the rare class; scores like accuracy hide how it is served."),
    ImageCheck("IM005", "Duplicate images across classes", "warning",
               "The same picture carries two labels: fix the label (noise) or remove the copy; until then "
               "training leaves them out."),
    ImageCheck("IM006", "Duplicate images within a class", "info",
               "Copies are trained once, so no copy of a validation image is in its training fold."),
    ImageCheck("IM007", "Tiny images", "warning",
               "Images under 16 pixels a side carry little detail; use larger ones if you have them."),
    ImageCheck("IM008", "Wildly different image sizes", "warning",
               "All images are resized to one side; crop or rescale them alike so objects keep their scale."),
    ImageCheck("IM009", "Unreadable image files", "warning",
               "Re-export or remove them; with --skip-bad training skips them (listed in the bundle)."),
)}
MIN_SIDE = 16
IMBALANCE_SHARE = 0.05


def validate_image_ignore(ignore: Iterable[str]) -> frozenset[str]:
    codes = frozenset(str(c).strip().upper() for c in ignore)
    unknown = sorted(codes - IMAGE_CHECKS.keys())
    if unknown:
        raise InvalidOptionError(f"Unknown image check code(s) {unknown} in --ignore; known codes are "
                                 f"{', '.join(IMAGE_CHECKS)}.")
    return codes


def run_image_checks(labels: Sequence[str], sizes: Sequence[tuple[int, int]], hashes: Sequence[int],
                     names: Sequence[str], skipped: Sequence[tuple[str, str]] = (), *, n_folds: int = 5,
                     ignore: Iterable[str] = ()) -> list[Finding]:
    """Every finding on a labelled image set (errors first), except the codes in `ignore`."""
    silenced = validate_image_ignore(ignore)
    found: list[tuple[str, str | None, str]] = []
    counts = Counter(labels)
    total = max(len(labels), 1)
    if len(counts) < 2:
        found.append(("IM001", None, f"{len(counts)} class(es) found: {sorted(counts)}."))
    for label, count in sorted(counts.items()):
        if count < 2:
            found.append(("IM002", label, f"class '{label}' has {count} image."))
        elif count < n_folds:
            found.append(("IM003", label, f"class '{label}' has {count} images, fewer than {n_folds} folds."))
        if len(counts) >= 2 and count / total < IMBALANCE_SHARE:
            found.append(("IM004", label, f"class '{label}' is {count / total:.1%} of {total:,} images."))
    by_hash: dict[int, list[int]] = defaultdict(list)
    for i, h in enumerate(hashes):
        by_hash[h].append(i)
    across = [group for group in by_hash.values() if len({labels[i] for i in group}) > 1]
    within = [group for group in by_hash.values() if len(group) > 1 and len({labels[i] for i in group}) == 1]
    if across:
        examples = "; ".join(" = ".join(f"{names[i]} ({labels[i]})" for i in g[:2]) for g in across[:3])
        found.append(("IM005", None, f"{len(across)} group(s) of near-identical images carry different labels, "
                                     f"e.g. {examples}."))
    if within:
        copies = sum(len(g) - 1 for g in within)
        found.append(("IM006", None, f"{copies} image(s) repeat another of their class "
                                     f"(e.g. {' = '.join(names[i] for i in within[0][:2])})."))
    tiny = [i for i, (w, h) in enumerate(sizes) if min(w, h) < MIN_SIDE]
    if tiny:
        found.append(("IM007", None, f"{len(tiny)} image(s) under {MIN_SIDE} px a side, e.g. {names[tiny[0]]} "
                                     f"({sizes[tiny[0]][0]}×{sizes[tiny[0]][1]})."))
    if sizes:
        areas = [w * h for w, h in sizes]
        if min(areas) > 0 and max(areas) / min(areas) > 16:
            small, large = areas.index(min(areas)), areas.index(max(areas))
            found.append(("IM008", None, f"sizes range from {sizes[small][0]}×{sizes[small][1]} ({names[small]}) "
                                         f"to {sizes[large][0]}×{sizes[large][1]} ({names[large]})."))
    if skipped:
        found.append(("IM009", None, f"{len(skipped)} file(s) could not be read, e.g. {skipped[0][1]}"))
    rank = {"error": 0, "warning": 1, "info": 2}
    findings = [Finding(code, IMAGE_CHECKS[code].severity, IMAGE_CHECKS[code].title, column, detail,  # type: ignore[arg-type]
                        IMAGE_CHECKS[code].advice)
                for code, column, detail in found if code not in silenced]
    return sorted(findings, key=lambda f: (rank[f.severity], f.code))


def duplicate_groups(hashes: Sequence[int], labels: Sequence[str]) -> list[int]:
    """For each image, the index of the first image with the same hash and label (itself when unique)."""
    first: dict[tuple[int, str], int] = {}
    return [first.setdefault((h, label), i) for i, (h, label) in enumerate(zip(hashes, labels, strict=True))]
