"""Codegen for a `fused` node: one Python loop over row blocks, one line per op, every op writing
with `out=` into scratch buffers that are allocated once and reused across blocks, so no
intermediate ever exists at full size. The group's outputs are written block by block into
their full-size arrays.

    v9 = empty((10000000,), float32)                   # a group output
    s0 = empty((65536,), float32)                      # scratch, reused in every block
    for lo in range(0, 10000000, 65536):
        hi = lo + 65536
        if hi > 10000000:                              # the last, shorter block
            hi = 10000000
            s0 = s0[:hi - lo]
        x_ = x[lo:hi]
        multiply(x_, x_, out=s0)                       # gelu.py:5
        ...
"""
from __future__ import annotations

import numpy as np

from .errors import file_label
from .ops.elementwise import NOT_IN_PLACE

# reductions called as their ufunc's .reduce (what np.sum/np.max call, minus ~2 us of Python per
# call); mean of float32/float64 is add.reduce then a division by the count, as np.mean does it
_REDUCE = {"sum": "add", "prod": "multiply", "max": "maximum", "min": "minimum"}
FUSED_GLOBALS = ({f"{u}_reduce" for u in _REDUCE.values()}
                 | {"intp", "divide", "empty", "matmul"})


def source_label(filename: str) -> str:
    """How a source file is named in generated-code comments: a notebook cell as In[n]."""
    return file_label(filename) or filename.rsplit("/", 1)[-1]


def _direct_reduction(n) -> bool:
    if not n.op.reduction or set(n.params) != {"axis", "keepdims"}:
        return False
    return n.op.name in _REDUCE or (n.op.name == "mean" and n.inputs[0].dtype in (np.float32, np.float64))


# Row sums through BLAS: the inexact rewrite "blas_rows" (passes/simplify.py lists its measured
# error; the fusion pass sets `blas_rows=True` on a group when it is on). A sum or mean over the
# last axis of float rows of n = k * c elements (c, the chunk, a divisor of n in 32..48) is
#     matmul(x.reshape(-1, k, c), ones_c) -> k partial sums per row, then add.reduce over them
# In cache that is about twice as fast as add.reduce alone (0.9 against 1.7 ms per 1e7 float32).
# BLAS adds each chunk sequentially in a few SIMD lanes, so the error grows with the chunk: on
# rows of many equal terms (after maximum or clip) one dot per whole row reached 100 eps *
# sum|x|, chunks of 96-128 float64 6-7.5, chunks of at most 48 3.3 (NumPy's own pairwise sum:
# 2.9). Chunks of 40 cost 15% more than chunks of 125.
# Only values the block computed (still in cache) go through BLAS. A row sum of a group input
# reads it from memory, where add.reduce streams faster: 2.4 ms per 1e7 float32 against 4.2
# for the chunked matmul, measured on an AMD EPYC VM (in cache the matmul wins, 1.1 vs 2.2).
CHUNK_MIN, CHUNK_MAX = 32, 48


def _chunk(n: int) -> int | None:
    return next((c for c in range(min(n, CHUNK_MAX), CHUNK_MIN - 1, -1) if n % c == 0), None)


def _blas_row_sum(n) -> bool:
    if n.op.name not in ("sum", "mean") or set(n.params) != {"axis", "keepdims"}:
        return False
    x = n.inputs[0]
    return (x.dtype in (np.float32, np.float64) and n.out.dtype == x.dtype and x.ndim == 2
            and tuple(n.params["axis"]) == (1,) and _chunk(x.shape[1]) is not None)


def partial_sums(body, blas_rows) -> list:
    """(node, k, c) for each row sum of the body that runs through BLAS: k partials of c."""
    if not blas_rows:
        return []
    out, from_memory = [], set(body.inputs)
    for n in body.nodes:
        if _blas_row_sum(n) and n.inputs[0] not in from_memory:
            c = _chunk(n.inputs[0].shape[1])
            out.append((n, n.inputs[0].shape[1] // c, c))
    return out


def _reduction_lines(n, arg, dest, glb, fresh, partial=None):
    """`partial`: (scratch name, k, c) when this row sum runs through BLAS (partial_sums)."""
    p = n.params
    if partial is not None:
        part, k, c = partial
        ones = fresh(f"ones{c}")
        glb["matmul"], glb[ones] = np.matmul, np.ones(c, n.inputs[0].dtype)
        glb["add_reduce"] = np.add.reduce
        lines = [f"matmul({arg}.reshape(-1, {k}, {c}), {ones}, out={part})",
                 f"add_reduce({part}, axis=(1,), keepdims={p['keepdims']!r}, out={dest})"]
    else:
        ufunc = _REDUCE.get(n.op.name, "add")
        glb[f"{ufunc}_reduce"] = getattr(np, ufunc).reduce
        lines = [f"{ufunc}_reduce({arg}, axis={p['axis']!r}, keepdims={p['keepdims']!r}, out={dest})"]
    if n.op.name == "mean":
        count = int(np.prod([n.inputs[0].shape[a] for a in p["axis"]]))
        glb["intp"], glb["divide"] = np.intp, np.divide
        lines.append(f"divide({dest}, intp({count}), out={dest}, casting='unsafe')")
    return lines


def _ufunc(n) -> bool:
    return (isinstance(n.op.impl, np.ufunc) and n.op.impl.nout == 1 and not n.params
            and n.op.elementwise)


def _loop_of(body, flat):
    """(aligned(v), row tail of v): which values are read in blocks, and a block's shape after
    its first axis. Flat loops run over the flattened elements of one shape."""
    first = next(n for n in body.nodes if n.op.name != "const")
    loop = first.inputs[0] if first.op.reduction else first.out
    if flat:
        return (lambda v: v.shape == loop.shape), (lambda v: ()), int(np.prod(loop.shape))
    D, lead = loop.ndim, loop.shape[0]     # every value in the group has D dims and `lead` rows
    return (lambda v: v.ndim == D and v.shape[0] == lead), (lambda v: v.shape[1:]), lead


def scratch_plan(body, usable_outputs, fresh=None, flat=False):
    """Where each op of a fused body writes: -> (plan, scratch, in_block, last_use).

    plan[i] is a scratch name, an output Value whose block holds the result, or None (the op
    writes its own output block, or binds a fresh small array); scratch lists (name, row shape,
    dtype) of the buffers to allocate once (`fresh(base)` makes names; by default s0, s1 ...).
    Scratch is reused by liveness inside the body, keyed by (row shape, dtype). An output's block
    is free until its producer writes it: a value that dies by then can live there (softmax's exp,
    layernorm's x - mean), which keeps the working set one buffer smaller. Only `usable_outputs`
    lend their blocks (not an output that reuses an input whose rows are still being read).
    """
    aligned, tail, _ = _loop_of(body, flat)
    fresh = fresh or (lambda base: base)
    last_use: dict = {}
    for i, n in enumerate(body.nodes):
        for v in n.inputs:
            last_use[v] = i
    body_out_set = set(body.outputs)
    produced_at = {v: i for i, n in enumerate(body.nodes) for v in n.outputs if v in body_out_set}
    blocks = {o: produced_at[o] for o in usable_outputs if o in produced_at and aligned(o)}
    busy_until = dict.fromkeys(blocks, -1)
    in_block: dict = {}          # value -> the output whose block holds it
    scratch_of: dict = {}
    free: dict = {}
    scratch: list = []           # (name, row shape, dtype)
    plan = []                    # per node: where its result goes

    def _place(n, i, in_place):
        """Where node n's result goes (see the docstring's plan[i])."""
        v = n.out
        if v in body_out_set or not (_ufunc(n) or _direct_reduction(n)):
            return None
        key = (tail(v), v.dtype)
        free_by = i if in_place else i - 1         # a block its own dying input leaves, or not
        home = next((o for o, at in blocks.items() if (tail(o), o.dtype) == key and i < at
                     and busy_until[o] <= free_by and last_use.get(v, i) <= at), None)
        if home is not None:
            busy_until[home] = last_use.get(v, i)
            in_block[v] = home
            return home
        if free.get(key):
            s = free[key].pop()
        else:
            s = fresh(f"s{len(scratch)}")
            scratch.append((s, tail(v), v.dtype))
        scratch_of[v] = s
        if last_use.get(v) is None:       # dead inside the body (cannot happen after dce)
            free.setdefault(key, []).append(s)
        return s

    def release(dying):
        for v in dying:
            free.setdefault((tail(v), v.dtype), []).append(scratch_of[v])

    for i, n in enumerate(body.nodes):
        if n.op.name == "const":
            plan.append(None)
            continue
        # dying inputs (each once: a + a frees a once) are freed first, so an op may write in
        # place; not for ops whose NumPy result can change when it does (NOT_IN_PLACE)
        dying = [v for v in dict.fromkeys(n.inputs) if last_use.get(v) == i and v in scratch_of]
        in_place = n.op.name not in NOT_IN_PLACE
        if in_place:
            release(dying)
        plan.append(_place(n, i, in_place))
        if not in_place:
            release(dying)
    return plan, scratch, in_block, last_use


def scratch_bytes(node) -> int:
    """Bytes of scratch the generated loop of a fused node allocates."""
    body, rows = node.params["body"], node.params["block_rows"]
    _, scratch, _, _ = scratch_plan(body, body.outputs, flat=node.params.get("flat", False))
    scratch += [(None, (k,), n.out.dtype)
                for n, k, _ in partial_sums(body, node.params.get("blas_rows", False))]
    return sum(rows * int(np.prod(tail)) * np.dtype(dt).itemsize for _, tail, dt in scratch)


def emit_fused(node, arg_names, out_names, out_buffers, fresh, glb, literal, indent="    "):
    """-> list of (source line, node or None). `out_buffers[i]` names an array to write output i
    into (memory planning), or None to allocate one."""
    body = node.params["body"]
    B = node.params["block_rows"]
    flat = node.params.get("flat", False)
    partials = partial_sums(body, node.params.get("blas_rows", False))
    aligned, _, lead = _loop_of(body, flat)
    # a flat loop sees every array as 1-D: reshape(-1) is a view of a contiguous array (a copy
    # otherwise, still correct), and the outputs get their shape back after the loop
    as_1d = ".reshape(-1)" if flat else ""

    lines = []
    ops = [n for n in body.nodes if n.op.name != "const"]
    what = "elements" if flat else "rows"
    lines.append((f"{indent}# fused group: {len(ops)} ops ({', '.join(dict.fromkeys(n.op.name for n in ops))}) "
                  f"in blocks of {B} {what} of {lead}", None))
    names: dict = {}
    outs = dict(zip(body.outputs, out_names))
    for v, name, buf in zip(body.outputs, out_names, out_buffers):
        if buf is not None:
            lines.append((f"{indent}{name} = {buf}{as_1d}", None))
        else:
            glb.setdefault("empty", np.empty)
            shape = (lead,) if flat else v.shape
            lines.append((f"{indent}{name} = empty({shape!r}, {_dt(v.dtype)})", None))
    flat_inputs = list(arg_names)
    if flat:
        for k, outer in enumerate(arg_names):
            flat_inputs[k] = fresh(f"{outer}_1d")
            lines.append((f"{indent}{flat_inputs[k]} = {outer}.reshape(-1)", None))

    usable = [o for o, buf in zip(body.outputs, out_buffers) if buf not in arg_names]
    plan, scratch, in_block, last_use = scratch_plan(body, usable, fresh, flat)
    partial_of = {}              # a BLAS row sum -> (its partials' scratch, k, c)
    for n, k, c in partials:
        name = fresh(f"p{len(partial_of)}")
        scratch.append((name, (k,), n.out.dtype))
        partial_of[n] = (name, k, c)
    glb.setdefault("empty", np.empty)
    for s, tail, dt in scratch:
        lines.append((f"{indent}{s} = empty({(B,) + tail!r}, {_dt(dt)})", None))

    lo, hi = fresh("lo"), fresh("hi")
    lines.append((f"{indent}for {lo} in range(0, {lead}, {B}):", None))
    ind = indent + "    "
    lines.append((f"{ind}{hi} = {lo} + {B}", None))
    if lead % B:
        lines.append((f"{ind}if {hi} > {lead}:", None))
        lines.append((f"{ind}    {hi} = {lead}", None))
        if scratch:
            lhs = ", ".join(s for s, _, _ in scratch)
            rhs = ", ".join(f"{s}[:{hi} - {lo}]" for s, _, _ in scratch)
            lines.append((f"{ind}    {lhs} = {rhs}", None))
    block_name = {}
    for o in body.outputs:       # views of the outputs' rows in this block
        if o in in_block.values() or (last_use.get(o) is not None and aligned(o)):
            block_name[o] = fresh(f"{outs[o]}_")
            lines.append((f"{ind}{block_name[o]} = {outs[o]}[{lo}:{hi}]", None))
    for i, p in enumerate(plan):
        if p in block_name:
            plan[i] = block_name[p]
    for v, outer in zip(body.inputs, flat_inputs):
        if aligned(v):
            names[v] = fresh(f"{outer.removesuffix('_1d')}_")
            lines.append((f"{ind}{names[v]} = {outer}[{lo}:{hi}]", None))
        else:
            names[v] = outer
    for i, n in enumerate(body.nodes):
        if n.op.name == "const":
            val = n.params["value"]
            if n.out.weak and literal(val):
                names[n.out] = repr(val)
            else:
                names[n.out] = c = fresh("c")
                glb[c] = np.reshape(val, -1) if flat and np.ndim(val) > 1 else val
            continue
        args = [names[v] for v in n.inputs]
        v = n.out
        if v in outs:
            dest = block_name.get(v) or f"{outs[v]}[{lo}:{hi}]"
        else:
            dest = plan[i]
        kw = "".join(f", {k}={_param(p, glb, fresh, n.op.name, k, literal)}" for k, p in n.params.items())
        call = f"{n.op.name}({', '.join(args)}{kw}"
        if dest is not None and _direct_reduction(n):
            texts = _reduction_lines(n, args[0], dest, glb, fresh, partial_of.get(n))
        else:
            glb[n.op.name] = n.op.impl
            if dest is not None and _ufunc(n):
                texts = [f"{call}, out={dest})"]
            elif dest is not None:
                texts = [f"{dest}{'' if dest.endswith(']') else '[...]'} = {call})"]
            else:
                names[v] = fresh(f"t{i}")
                texts = [f"{names[v]} = {call})"]
        if dest is not None and v not in names:
            names[v] = dest
        for text in texts:
            line = f"{ind}{text}"
            if n.loc is not None:
                line = f"{line:<64}  # {source_label(n.loc[0])}:{n.loc[1]}"
            lines.append((line, n))
    if flat:
        for v, name in zip(body.outputs, out_names):
            lines.append((f"{indent}{name} = {name}.reshape({v.shape!r})", None))
    return lines


def _dt(dtype) -> str:
    return f"dtype({str(np.dtype(dtype))!r})"


def _param(p, glb, fresh, opname, key, literal):
    if literal(p):
        return repr(p)
    if isinstance(p, np.dtype):
        return _dt(p)
    name = fresh(f"{opname}_{key}")
    glb[name] = p
    return name
