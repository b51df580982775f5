"""``njit`` whose on-disk cache is also invalidated by the code a kernel compiles in from other modules.

numba's ``cache=True`` trusts an index stamped with the timestamp and size of the kernel's own
source file (and keyed by its own bytecode). Jitted helpers it inlines or calls from another
module (``plasticity/rules.py``, ``engine/rng.py``) are compiled into its machine code too, so
after an edit there numba kept loading the old code. Every cached kernel of neurosim is
decorated with :func:`njit` from here instead: its cache (:class:`DependencyCache`) adds to the
key of each cached overload :func:`fingerprint`, a digest of the code the kernel reaches, taken
from the functions in memory when the kernel is loaded or compiled. When any of it changed,
no entry matches and numba compiles afresh; when nothing did, it loads.

A plain (not jitted) neurosim function a kernel calls — one numba compiles through
``@overload``, such as :func:`neurosim.neurons.fastexp.exp`, or an ``@intrinsic`` such as
:func:`neurosim.engine.borrowed.borrowed` — stands for its module's whole source. Not covered: ``@overload`` implementations of functions outside neurosim, and jitted
code reached other than through globals, closures, defaults or module attributes.
"""

from __future__ import annotations

import enum
import hashlib
import types
from typing import Any, Callable, Iterable

import numba
import numpy as np
from numba.core.caching import FunctionCache, IndexDataCacheFile
from numba.core.dispatcher import Dispatcher
from numba.core.extending import _Intrinsic as Intrinsic

_SCALARS = (bool, int, float, complex, str, bytes, type(None), np.generic, np.dtype, enum.Enum)


def _code_names(code: types.CodeType) -> set[str]:
    """The global and attribute names used by ``code`` and the code nested in it."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _code_token(code: types.CodeType) -> str:
    """Bytecode, names and constants of ``code`` (nested code included), independent of line numbers."""
    consts = [_code_token(c) if isinstance(c, types.CodeType) else _value_token(c, (), [], set())
              for c in code.co_consts]
    parts = (code.co_code.hex(), code.co_names, code.co_varnames, code.co_freevars, consts)
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _name(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"


def _value_token(value: Any, attrs: Iterable[str], todo: list, modules: set[int]) -> str:
    """A deterministic description of a value the jitted code reads: jitted functions are queued
    on ``todo`` (their code is described in turn), constants by value (numba freezes them into
    the machine code), modules by their members named in ``attrs`` (``modules``: those entered)."""
    if isinstance(value, Dispatcher):
        todo.append(value.py_func)
        return f"jit {_name(value.py_func)}"
    if isinstance(value, types.ModuleType):
        if id(value) in modules:
            return f"module {value.__name__}"
        modules.add(id(value))
        members = vars(value)  # no module __getattr__ (deprecation warnings, lazy imports)
        found = [f"{a}={_value_token(members[a], attrs, todo, modules)}" for a in sorted(attrs) if a in members]
        return f"module {value.__name__}({', '.join(found)})"
    if isinstance(value, _SCALARS):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__}({', '.join(_value_token(v, attrs, todo, modules) for v in value)})"
    if isinstance(value, (set, frozenset)):
        return f"set({', '.join(sorted(_value_token(v, attrs, todo, modules) for v in value))})"
    if isinstance(value, np.ndarray):
        return f"array {value.dtype} {value.shape} {hashlib.sha256(value.tobytes()).hexdigest()}"
    if isinstance(value, type):
        return f"type {_name(value)}"
    if isinstance(value, types.FunctionType) and (value.__module__ or "").startswith("neurosim"):
        # a plain function numba compiles through ``@overload`` (fastexp.exp): its implementation
        # lives elsewhere in its module, so the whole module's source stands for it
        return f"function {_name(value)} of module source {_module_digest(value.__module__)}"
    if isinstance(value, Intrinsic) and (value._defn.__module__ or "").startswith("neurosim"):
        # an ``@intrinsic`` (borrowed.borrowed): its code generator lives in its module
        return f"intrinsic {_name(value._defn)} of module source {_module_digest(value._defn.__module__)}"
    if callable(value):
        return f"{type(value).__name__} {_name(value)}"
    return f"object of {_name(type(value))}"


def _module_digest(module: str) -> str:
    """SHA-256 of a module's source file."""
    import importlib
    import pathlib
    path = pathlib.Path(importlib.import_module(module).__file__)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _cell(cell: types.CellType) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # a cell not yet filled
        return "<empty cell>"


def reached(py_func: Callable) -> tuple[list[Callable], str]:
    """The Python functions of the jitted code ``py_func`` reaches (itself first), and the
    description of that code: bytecode, constants, closure values, defaults, and the values
    of the globals and module attributes it reads (jitted functions among them recursively)."""
    todo, seen, lines = [py_func], {}, []
    while todo:
        func = todo.pop(0)
        if id(func) in seen:
            continue
        seen[id(func)] = func
        names = _code_names(func.__code__)
        glob = func.__globals__
        lines.append(f"def {_name(func)} {_code_token(func.__code__)}")
        lines += [f"  {n} = {_value_token(glob[n], names, todo, set())}" for n in sorted(names) if n in glob]
        cells = [_cell(c) for c in func.__closure__ or ()]
        extra = (cells, func.__defaults__, sorted((func.__kwdefaults__ or {}).items()))
        lines.append(f"  closure, defaults = {_value_token(extra, names, todo, set())}")
    return list(seen.values()), "\n".join(lines)


def fingerprint(py_func: Callable) -> str:
    """SHA-256 of :func:`reached`'s description of ``py_func``'s code."""
    return hashlib.sha256(reached(py_func)[1].encode()).hexdigest()


class KeyedDataFile(IndexDataCacheFile):
    """numba's index and data files, but each entry's data file is named after a digest of its key.

    numba numbers the data files of one function 1, 2, ... in the order entries are added; two
    processes adding different entries at once (different models compiled in parallel) then
    picked the same number, and the index of one pointed at the other's machine code: a wrong
    kernel, loaded without complaint. A name derived from the key is the same for the same entry
    in every process and different for different entries; a lost index update only costs a
    recompilation."""

    def save(self, key, data):
        overloads = self._load_index()
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:20]
        data_name = self._data_name_pattern.replace("{number:d}", digest)
        if overloads.get(key) != data_name:
            overloads[key] = data_name
            self._save_index(overloads)
        self._save_data(data_name, data)


class DependencyCache(FunctionCache):
    """numba's per-function cache, whose index keys hold the signature, the target, the kernel's
    own bytecode and :func:`fingerprint` (which covers the closure's values, such as the
    generated neuron update a block kernel closes over). Entries of edited code stay
    in the index, unused, until the kernel's own file changes and numba starts a fresh index."""

    def __init__(self, py_func):
        super().__init__(py_func)
        self._cache_file = KeyedDataFile(cache_path=self._cache_path, filename_base=self._impl.filename_base,
                                         source_stamp=self._impl.locator.get_source_stamp())

    def _index_key(self, sig, codegen):
        # numba's key would also hold the closure's values pickled, whose bytes differ from one
        # process to the next for generated code: the fingerprint describes them instead
        code = hashlib.sha256(self._py_func.__code__.co_code).hexdigest()
        return (sig, codegen.magic_tuple(), code, fingerprint(self._py_func))


def njit(func: Callable | None = None, *, cache: bool = False, **options: Any):
    """``numba.njit`` (lazy compilation only); with ``cache=True`` the kernel is cached on disk by
    :class:`DependencyCache`. Used as ``@njit(cache=True, ...)`` or ``njit(cache=True)(f)``."""
    if func is not None and not callable(func):
        raise TypeError("jit_cache.njit: explicit signatures are not supported; numba compiles on the first call")

    def decorate(f: Callable) -> Dispatcher:
        dispatcher = numba.njit(**options)(f)
        if cache:
            dispatcher._cache = DependencyCache(dispatcher.py_func)  # what Dispatcher.enable_caching does
        return dispatcher

    return decorate(func) if func is not None else decorate
