"""Import before numba.cuda compiles anything: keeps numba-cuda working with newer NumPy.

numba-cuda up to 0.30 registers an overload of ``np.row_stack`` when its array target loads,
and NumPy 2.5 removed that alias of ``np.vstack``: every kernel compilation then fails with
``AttributeError: module 'numpy' has no attribute 'row_stack'`` (seen with numba-cuda 0.30.4
and NumPy 2.5.2). The alias is restored for numba-cuda's sake; nothing in neurosim uses it.
"""

import numpy as np


def restore_numpy_aliases() -> None:
    """Give NumPy back the ``row_stack`` alias numba-cuda registers an overload for."""
    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack
