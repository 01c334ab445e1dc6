"""Dtypes: NumPy's, under the Array API names, and the short text form `f32[2,3]` used in graphs."""
from __future__ import annotations

import numpy as np

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in ("int8", "int16", "int32", "int64"))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in ("uint8", "uint16", "uint32", "uint64"))
float16, float32, float64 = (np.dtype(t) for t in ("float16", "float32", "float64"))
complex64, complex128 = np.dtype("complex64"), np.dtype("complex128")

ALL = (bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
       float16, float32, float64, complex64, complex128)

_SHORT = {bool_: "bool", float16: "f16", float32: "f32", float64: "f64", complex64: "c64",
          complex128: "c128", int8: "i8", int16: "i16", int32: "i32", int64: "i64",
          uint8: "u8", uint16: "u16", uint32: "u32", uint64: "u64"}


def as_dtype(d) -> np.dtype:
    """Any dtype spelling NumPy accepts ('float32', np.float32, rt.float32) -> np.dtype."""
    try:
        dt = np.dtype(d)
    except TypeError as e:
        raise TypeError(f"unknown dtype {d!r}: use one of rt.float32, rt.float64, rt.int64, "
                        f"rt.bool_ ... or a NumPy dtype name") from e
    if dt not in _SHORT:
        raise TypeError(f"dtype {dt} is not supported by the runtime (numeric and bool dtypes only)")
    return dt


def short_type(dtype, shape) -> str:
    dt = np.dtype(dtype)
    return f"{_SHORT.get(dt, str(dt))}[{','.join(str(d) for d in shape)}]"


def is_float(dtype) -> bool:
    return np.dtype(dtype).kind in "fc"


def is_inexact(dtype) -> bool:
    return np.dtype(dtype).kind in "fc"
