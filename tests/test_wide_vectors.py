"""prefer_wide_vectors: the neuron update's loops use 512-bit vectors where the CPU has them."""

import re

import llvmlite.binding as llvm
import numba
import numpy as np
import pytest

from neurosim.engine.wide_vectors import ATTRIBUTE, prefer_wide_vectors


@numba.njit
def _wide(a, b, c):
    prefer_wide_vectors()
    for i in range(a.shape[0]):
        a[i] = b[i] * c[i] + 1.0


def test_the_function_carries_the_attribute_and_computes_the_same():
    b, c = np.linspace(0, 1, 37), np.linspace(1, 2, 37)
    a = np.zeros(37)
    _wide(a, b, c)
    assert np.array_equal(a, b * c + 1.0)
    ir = "\n".join(_wide.inspect_llvm().values())
    assert ATTRIBUTE in ir


@pytest.mark.skipif("+avx512f" not in llvm.get_host_cpu_features().flatten().split(","),
                    reason="the CPU has no AVX-512: 512-bit vectors do not exist here")
def test_on_an_avx512_cpu_the_loop_uses_zmm_registers():
    a = np.zeros(64)
    _wide(a, np.ones(64), np.ones(64))
    asm = "\n".join(_wide.inspect_asm().values())
    assert re.search(r"\bv\w+pd\b.*%zmm", asm)
