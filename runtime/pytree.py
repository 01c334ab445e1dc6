"""Nested containers of tensors ("pytrees": lists, tuples, dicts, namedtuples, None) as flat leaves.

Model parameters are dicts of arrays; functions take and return them. `flatten` gives the leaves
and a hashable description of the structure; `unflatten` rebuilds it.
"""
from __future__ import annotations


def flatten(tree):
    """-> (leaves, treedef). treedef is hashable and compares equal for equal structures."""
    leaves: list = []
    return leaves, _flatten(tree, leaves)


def _flatten(t, leaves):
    tp = type(t)
    if tp is tuple or tp is list:
        return (tp, tuple(_flatten(x, leaves) for x in t))
    if tp is dict:
        keys = tuple(sorted(t, key=repr))
        return (dict, keys, tuple(_flatten(t[k], leaves) for k in keys))
    if t is None:
        return None
    if isinstance(t, tuple) and hasattr(t, "_fields"):     # namedtuple
        return (tp, tuple(_flatten(x, leaves) for x in t))
    leaves.append(t)
    return "*"


def unflatten(treedef, leaves):
    it = iter(leaves)
    out = _build(treedef, it)
    return out


def _build(d, it):
    if d == "*":
        return next(it)
    if d is None:
        return None
    tp = d[0]
    if tp is dict:
        return {k: _build(s, it) for k, s in zip(d[1], d[2])}
    items = [_build(s, it) for s in d[1]]
    if tp is tuple or tp is list:
        return tp(items)
    return tp(*items)


def tree_map(fn, tree, *rest):
    """Apply `fn` leaf-wise over trees of the same structure.

    >>> tree_map(lambda a, b: a + b, {"w": 1, "b": 2}, {"w": 10, "b": 20})
    {'b': 22, 'w': 11}
    """
    leaves, d = flatten(tree)
    others = [flatten(r) for r in rest]
    for ol, od in others:
        if od != d:
            raise ValueError("tree_map: the trees have different structures")
    return unflatten(d, [fn(*xs) for xs in zip(leaves, *(ol for ol, _ in others))])


def leaf_paths(tree, prefix=""):
    """Readable names for the leaves, in `flatten` order: 'params.w', 'xs[0]' ..."""
    names: list = []
    _paths(tree, prefix, names)
    return names


def _paths(t, p, out):
    tp = type(t)
    if isinstance(t, tuple) and hasattr(t, "_fields"):     # namedtuple: by field name
        for name, x in zip(t._fields, t):
            _paths(x, f"{p}_{name}", out)
    elif tp is tuple or tp is list:
        for i, x in enumerate(t):
            _paths(x, f"{p}_{i}", out)
    elif tp is dict:
        for k in sorted(t, key=repr):
            _paths(t[k], f"{p}_{k}", out)
    elif t is not None:
        out.append(p)
