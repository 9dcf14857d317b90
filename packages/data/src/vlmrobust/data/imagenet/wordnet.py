"""The WordNet is-a hierarchy above the 1000 ImageNet classes (packaged, restricted to their ancestors).

The packaged graph holds every synset that is an ancestor-or-self of an IN-1k class (1,860 nodes) and
every is-a edge between them. WordNet is a DAG: a few synsets have more than one parent.
"""

from __future__ import annotations

from functools import cache

from vlmrobust.data.imagenet.metadata import read_meta_text

ROOT = "n00001740"  # "entity", the single root of the noun hierarchy


@cache
def is_a_edges() -> tuple[tuple[str, str], ...]:
    """All packaged ``(parent, child)`` is-a edges."""
    edges = []
    for line in read_meta_text("wordnet_is_a.txt").splitlines():
        parent, child = line.split()
        edges.append((parent, child))
    return tuple(edges)


@cache
def parents() -> dict[str, tuple[str, ...]]:
    """Map synset -> its parents (empty tuple for the root)."""
    out: dict[str, list[str]] = {node: [] for node in node_names()}
    for parent, child in is_a_edges():
        out[child].append(parent)
    return {node: tuple(ps) for node, ps in out.items()}


@cache
def node_names() -> dict[str, str]:
    """Map synset wnid -> its WordNet words (e.g. ``"tench, Tinca tinca"``)."""
    out = {}
    for line in read_meta_text("wordnet_names.txt").splitlines():
        wnid, words = line.split("\t", 1)
        out[wnid] = words
    return out


def ancestors(wnid: str) -> dict[str, int]:
    """Every ancestor-or-self of ``wnid`` with its shortest number of is-a steps up from ``wnid``.

    Raises:
        KeyError: ``wnid`` is not in the packaged hierarchy.
    """
    graph = parents()
    if wnid not in graph:
        raise KeyError(f"{wnid!r} is not in the packaged WordNet hierarchy (ancestors of the IN-1k classes)")
    depth = {wnid: 0}
    frontier = [wnid]
    while frontier:
        nxt = []
        for node in frontier:
            for parent in graph[node]:
                if parent not in depth:
                    depth[parent] = depth[node] + 1
                    nxt.append(parent)
        frontier = nxt
    return depth
