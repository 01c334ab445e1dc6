"""Summaries against NumPy, strided samples, and pictures that are valid PNG / SVG documents."""
import base64
import re
import struct
import zlib
from xml.etree import ElementTree

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import runtime as rt
from eagermagic.pictures import heatmap, histogram, line, picture_for
from eagermagic.summary import final_summary, fingerprint, strided_view, summarize

FLOATS = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=12),
    elements=st.floats(-1e6, 1e6, width=32) | st.sampled_from([np.nan, np.inf, -np.inf]))


@given(FLOATS)
def test_summary_matches_numpy(a):
    for value in (a, rt.asarray(a)):
        s = final_summary(value)
        assert s.shape == a.shape and s.dtype == a.dtype.name and s.exact
        assert s.n_nan == np.isnan(a).sum() and s.n_inf == np.isinf(a).sum()
        fin = a[np.isfinite(a)]
        if fin.size:
            assert s.min == fin.min() and s.max == fin.max()
            assert s.mean == pytest.approx(fin.astype(np.float64).mean(), rel=1e-9, abs=1e-9)
        else:
            assert s.min is None and "no finite values" in s.stats_text() or a.size == 0


@given(hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=40),
                  elements=st.integers(-1000, 1000)),
       st.integers(1, 200))
def test_strided_sample_is_a_view_with_at_most_limit_elements(a, limit):
    v, steps = strided_view(a, limit)
    assert v.size <= max(limit, 1) or v.size == 1
    assert np.shares_memory(v, a) or v.size == 0
    np.testing.assert_array_equal(v, a[tuple(slice(None, None, s) for s in steps)])
    s = summarize(a, limit=limit)
    assert s.exact == (v.size == a.size)
    if s.min is not None:
        assert a.min() <= s.min <= s.max <= a.max()


def test_fingerprint_sees_in_place_changes():
    a = np.zeros((300, 300))
    fp_live, fp_exact = fingerprint(a), fingerprint(a, exact=True)
    a[7, 11] = 1.0                             # off the live sample's grid
    assert fingerprint(a, exact=True) != fp_exact
    a[0, 0] = 2.0                              # on it
    assert fingerprint(a) != fp_live


def _png_pixels(img_html):
    data = base64.b64decode(re.search(r"base64,([^\"]+)", img_html).group(1))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        tag, body, crc = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n], data[pos + 8 + n:pos + 12 + n]
        assert struct.unpack(">I", crc)[0] == zlib.crc32(tag + body) & 0xFFFFFFFF
        chunks[tag] = chunks.get(tag, b"") + body
        pos += 12 + n
    w, h, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    raw = zlib.decompress(chunks[b"IDAT"])
    rows = np.frombuffer(raw, np.uint8).reshape(h, 1 + 3 * w)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(h, w, 3)


def test_heatmap_is_a_valid_png_with_nan_and_inf_marked():
    a = np.arange(20.0).reshape(4, 5)
    a[1, 2], a[3, 4] = np.nan, np.inf
    px = _png_pixels(heatmap(a))
    assert px.shape == (4, 5, 3)
    assert tuple(px[1, 2]) == (255, 0, 255) and tuple(px[3, 4]) == (255, 120, 0)
    assert px[0, 0].sum() < px[3, 3].sum()          # low is dark, high is bright


def test_heatmap_of_a_huge_matrix_stays_small():
    big = np.broadcast_to(np.arange(10_000.0), (10_000, 10_000))   # 1e8 elements, no memory
    html = picture_for(strided_view(big, 1 << 16)[0])
    assert html.startswith("<img") and len(html) < 20_000
    assert max(_png_pixels(html).shape[:2]) <= 48


@pytest.mark.parametrize("pic", [
    lambda: histogram(np.random.default_rng(0).normal(size=1000)),
    lambda: line(np.sin(np.linspace(0, 6, 100))),
    lambda: line([1.0, np.nan, 2.0, np.inf, 3.0] * 200),
    lambda: line(np.random.default_rng(1).normal(size=100_000)),
    lambda: picture_for(np.arange(500.0)),
])
def test_svg_pictures_are_well_formed_and_small(pic):
    svg = pic()
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg") and len(svg) < 20_000
    assert root.find("{http://www.w3.org/2000/svg}title") is not None


def test_long_history_keeps_its_extremes():
    y = np.zeros(100_000)
    y[54_321] = 9.0                       # one spike in 100k points survives the downsampling
    svg = line(y)
    pts = [tuple(map(float, p.split(","))) for p in
           re.search(r'points="([^"]+)"', svg).group(1).split()]
    assert min(p[1] for p in pts) < 10     # drawn near the top of a 44 px picture
