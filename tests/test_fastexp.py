"""fastexp: the vectorisable exp of the CPU backends, against the C library and its own contract."""

import math

import numba
import numpy as np
import pytest

from neurosim.neurons import codegen, fastexp


@numba.njit
def _apply(x, out):
    for i in range(x.shape[0]):
        out[i] = fastexp.exp(x[i])


def _ulps(got: np.ndarray, exact: np.ndarray, dtype) -> np.ndarray:
    return np.abs(got.astype(np.float64) - exact) / np.spacing(exact.astype(dtype)).astype(np.float64)


@pytest.mark.parametrize("dtype, limit", [(np.float64, 708.0), (np.float32, 87.0)])
def test_exp_is_within_two_ulps_over_the_normal_range(dtype, limit):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-limit, limit, 200_000), rng.uniform(-1, 1, 200_000),
                        rng.normal(0, 1e-6, 1000)]).astype(dtype)
    out = np.empty_like(x)
    _apply(x, out)
    exact = np.array([math.exp(float(v)) for v in x])  # correctly rounded to ~0.5 ulp of float64
    assert _ulps(out, exact, dtype).max() <= 2.0
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_special_values(dtype):
    x = np.array([0.0, np.nan, np.inf, -np.inf, 1000.0, -1000.0, 1.0], dtype)
    out = np.empty_like(x)
    _apply(x, out)
    assert out[0] == 1.0 and np.isnan(out[1]) and out[2] == np.inf and out[3] == 0.0
    assert out[4] == np.inf and out[5] == 0.0
    assert float(out[6]) == pytest.approx(math.e, rel=2 * float(np.finfo(dtype).eps))


def test_phi1_and_exprel_keep_their_accuracy_near_zero():
    a = np.array([-1e3, -1.0, -1e-4, -1e-9, 0.0, 1e-9, 2.0])
    h = 1e-4
    expected = np.array([math.expm1(v * h) / v if v else h for v in a])
    np.testing.assert_allclose(codegen.NUMPY["phi1"](a, np.full_like(a, h)), expected, rtol=1e-12)
    x = np.array([-5.0, -1e-3, -1e-7, 0.0, 1e-12, 3.0])
    expected = np.array([math.expm1(v) / v if v else 1.0 for v in x])
    np.testing.assert_allclose(codegen.NUMPY["exprel"](x), expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_numpy_reference_ufunc_is_the_kernels_code_bit_for_bit(dtype):
    x = np.random.default_rng(2).uniform(-50, 50, 10_001).astype(dtype)
    out = np.empty_like(x)
    _apply(x, out)
    ref = codegen.NUMPY["exp"](x)
    assert ref.dtype == dtype
    np.testing.assert_array_equal(ref, out)
