"""Which inputs of an API-format graph a batch row sets.

A CSV column patches the graph as follows:

* ``image`` / ``audio``: every ``LoadImage.image`` / ``LoadAudio.audio`` (a local file is uploaded
  first and its server name used);
* ``seed``: every ``seed``/``noise_seed`` input of a 3DXTalker node;
* ``<node id>.<input>`` (e.g. ``7.keyframes``): that input of that node, converted to the type of
  the value already there (numbers stay numbers);
* ``id``: the item's name (output sub-folder), not patched.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import X3DError

FILE_COLUMNS = {"image": ("LoadImage", "image"), "audio": ("LoadAudio", "audio")}
RESERVED = {"id"}


def graph_inputs(graph: dict) -> dict[str, list[tuple[str, str]]]:
    """Column name -> ``[(node id, input name), ...]`` it would patch (shorthand columns only)."""
    targets: dict[str, list[tuple[str, str]]] = {}
    for node_id, node in graph.items():
        cls, inputs = node.get("class_type", ""), node.get("inputs", {})
        for column, (klass, name) in FILE_COLUMNS.items():
            if cls == klass and name in inputs:
                targets.setdefault(column, []).append((node_id, name))
        if cls.startswith("X3DTalker_"):
            for name in ("seed", "noise_seed"):
                if name in inputs and not isinstance(inputs[name], list):
                    targets.setdefault("seed", []).append((node_id, name))
    return targets


def _convert(old: Any, text: str, where: str) -> Any:
    if isinstance(old, bool):
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise X3DError(f"{where}: '{text}' is not a boolean")
    try:
        if isinstance(old, int):
            return int(float(text))
        if isinstance(old, float):
            return float(text)
    except ValueError:
        raise X3DError(f"{where}: '{text}' is not a number") from None
    return text


def patch_graph(graph: dict, values: dict[str, str]) -> dict:
    """A copy of ``graph`` with the row's ``values`` set (see the module docstring)."""
    out = copy.deepcopy(graph)
    shorthand = graph_inputs(out)
    for column, text in values.items():
        if column in RESERVED or text is None or str(text) == "":
            continue
        if "." in column:
            node_id, name = column.split(".", 1)
            if node_id not in out:
                raise X3DError(f"column '{column}': the workflow has no node '{node_id}'")
            inputs = out[node_id].setdefault("inputs", {})
            if isinstance(inputs.get(name), list):
                raise X3DError(f"column '{column}': input '{name}' of node {node_id} is a link, not a value")
            inputs[name] = _convert(inputs.get(name, ""), str(text), f"column '{column}'")
            continue
        if column not in shorthand:
            raise X3DError(f"column '{column}' matches nothing in the workflow; use image, audio, seed, id or "
                           "'<node id>.<input>'")
        for node_id, name in shorthand[column]:
            old = out[node_id]["inputs"][name]
            out[node_id]["inputs"][name] = _convert(old, str(text), f"column '{column}'")
    return out
