"""Problem kinds: what plugs a kind of problem (tabular today) into the shared lifecycle.

The bundle manifest records a model's kind; bundle, serve, monitor, retrain and report ask
this registry for the kind's hook in their own layer instead of branching on its name.
See registry.py for the contract and tabular.py for the first entry.
"""

from kiln.kinds.outcome import Outcome
from kiln.kinds.registry import DEFAULT_KIND, LAYERS, Kind, for_task, get, kind_of, names, register

__all__ = ["DEFAULT_KIND", "LAYERS", "Kind", "Outcome", "for_task", "get", "kind_of", "names", "register"]
