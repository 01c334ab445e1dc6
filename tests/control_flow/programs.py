"""Random programs with `if`/`elif`/`else`, `while` and `for i in rt.range(n)` on traced values
(and on Python values), written as source text and registered in linecache the way a notebook
front end registers a cell, so autograph reads them from there."""
import itertools
import linecache

from hypothesis import strategies as st

import runtime as rt

_count = itertools.count()

consts = st.sampled_from(["0.5", "1.5", "-0.75", "0.25", "2.0"])


@st.composite
def statement(draw, depth, counter, loops=("while", "for"), i_bound=False):
    """`i_bound`: `i` has a value here (set before the loops, or a loop's `i`), so a statement
    may read it; after a loop that reuses `i` it must hold Python's value (the break index,
    the last index, or the old value after zero iterations)."""
    kinds = (["assign", "assign"] + (["if"] if depth < 3 else [])
             + ([*loops, "pyif"] if depth < 2 else []))
    kind = draw(st.sampled_from(kinds))
    if kind == "assign":
        return [draw(st.sampled_from([
            f"y = rt.tanh(y * {draw(consts)}) + x * {draw(consts)}",
            f"s = s + rt.sum(y) * {draw(consts)}",
            f"y = rt.sin(y) - s * {draw(consts)}",
            f"tmp = y * {draw(consts)}",        # a temporary: fine unless used after a branch
            # conditional expressions: a traced test becomes a cond, a Python one stays Python
            f"y = y * {draw(consts)} if rt.sum(y) > t and s < {draw(consts)} else rt.sin(y)",
            f"s = s * {draw(consts)} if not rt.max(y) > t else s + rt.mean(y) if s > 0 else s - 1.0",
            f"y = y + {draw(consts)} if {draw(st.integers(0, 3))} > 1 else y * (rt.sum(x) if s > t else 0.5)",
        ] + ([f"s = s * {draw(consts)} + rt.sum(y) * i.astype(rt.float64)"] if i_bound else [])))]
    if kind == "if":
        test = draw(st.sampled_from([f"rt.sum(y) > t * {draw(consts)}", "rt.max(y) < t and s > 0",
                                     "not rt.min(x) > t", "s < t or rt.sum(x) > 0"]))
        lines = [f"if {test}:"] + _indent(draw(block(depth + 1, counter, loops, i_bound)))
        if draw(st.booleans()):
            lines += [f"elif rt.mean(y) > {draw(consts)}:"] + _indent(draw(block(depth + 1, counter, loops, i_bound)))
        if draw(st.booleans()):
            lines += ["else:"] + _indent(draw(block(depth + 1, counter, loops, i_bound)))
        return lines
    if kind == "pyif":               # a Python condition: stays Python
        n = draw(st.integers(0, 3))
        return [f"if {n} > 1:"] + _indent(draw(block(depth + 1, counter, loops, i_bound))) + \
               ["else:"] + _indent(draw(block(depth + 1, counter, loops, i_bound)))
    k = f"k{next(counter)}"
    jump = draw(st.sampled_from([[], [], ["break"], ["continue"]]))
    if jump and kind == "while":
        jump = ["break"]               # a `continue` there would skip the counter: endless
    jump_test = draw(st.sampled_from([f"rt.max(y) > t * {draw(consts)} + 1", "rt.sum(y) > t"]))
    jump = [f"if {jump_test}:", f"    {jump[0]}"] if jump else []
    if kind == "while":
        body = (draw(block(depth + 1, counter, loops, i_bound)) + jump
                + ["y = y * 1.25 + 0.5", f"{k} = {k} + 1"])
        return [f"{k} = 0", f"while rt.sum(rt.abs(y)) < t * 4 + 8 and {k} < {draw(st.integers(1, 4))}:"] \
            + _indent(body)
    n = draw(st.integers(0, 3))
    body = draw(block(depth + 1, counter, loops, True)) + jump + [
        "s = s * 0.5 + rt.sum(y * i.astype(rt.float64))"]
    # Python's `i` after the loop, when `i` had a value before it: otherwise the conversion
    # cannot tell a loop ran (n may be 0) and asks for a value first (its documented limit).
    read_after = i_bound and draw(st.booleans())
    return [f"for i in rt.range({n}):"] + _indent(body) + (
        ["s = s * 0.5 + rt.sum(y) * (i.astype(rt.float64) + 0.5)"] if read_after else [])


@st.composite
def block(draw, depth, counter, loops=("while", "for"), i_bound=False):
    n = draw(st.integers(1, 3 if depth == 0 else 2))
    lines = []
    for _ in range(n):
        lines += draw(statement(depth, counter, loops, i_bound))
    return lines


def _indent(lines):
    return ["    " + ln for ln in lines]


@st.composite
def programs(draw, loops=("while", "for")):
    """`def prog(x, t)` returning (y, s); loops=("for",) leaves out `while` (for gradients)."""
    counter = itertools.count()
    i_bound = draw(st.booleans())          # else `i` is read only inside `for` bodies
    body = draw(block(0, counter, loops, i_bound))
    return "\n".join(["def prog(x, t):", "    y = x", "    s = 0.0",
                      *(["    i = rt.asarray(-3)"] if i_bound else []), *_indent(body),
                      "    return y, s", ""])


def load(source, name="prog"):
    """Define the function from `source` under a cell-like file name registered in linecache."""
    filename = f"<cf-cell-{next(_count)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    ns = {"rt": rt}
    exec(compile(source, filename, "exec"), ns)
    return ns[name]
