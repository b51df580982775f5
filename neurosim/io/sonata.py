"""SONATA layout helpers: constants, the ``sorting`` enum, units and appendable datasets.

The SONATA groups (``/spikes``, ``/report``) follow the SONATA developer guide and what the
PyPI libsonata wheel can read: ``sorting`` is an HDF5 ENUM, every ``units`` attribute is
present, report data is float32, ``index_pointers`` has N+1 entries and nothing under these
groups is compressed (the wheel's HDF5 has no deflate filter). Datasets are chunked and
resizable along the first axis so that blocks can be appended while a run goes on.
"""

from __future__ import annotations

import h5py
import numpy as np

#: root attributes every SONATA file carries
MAGIC = 0x0A7A
VERSION = (0, 1)

#: ``/spikes/<population>`` attribute ``sorting``
SORTING = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype="u1")
BY_TIME = 2

#: state variable -> (units written in the file, factor from SI to those units)
REPORT_UNITS: dict[str, tuple[str, float]] = {
    "voltage": ("mV", 1e3),
    "current": ("nA", 1e9),
    "conductance": ("nS", 1e9),
    "time": ("ms", 1e3),
    "frequency": ("Hz", 1.0),
    "dimensionless": ("1", 1.0),
}

#: unit string found in a file -> (factor to SI, SI symbol); also reads files of other writers
TO_SI: dict[str, tuple[float, str]] = {
    "s": (1.0, "s"), "ms": (1e-3, "s"), "us": (1e-6, "s"),
    "V": (1.0, "V"), "mV": (1e-3, "V"), "uV": (1e-6, "V"),
    "A": (1.0, "A"), "mA": (1e-3, "A"), "uA": (1e-6, "A"), "nA": (1e-9, "A"), "pA": (1e-12, "A"),
    "Hz": (1.0, "Hz"),
    "S": (1.0, "S"), "mS": (1e-3, "S"), "uS": (1e-6, "S"), "nS": (1e-9, "S"), "pS": (1e-12, "S"),
    "1": (1.0, "1"),
}

#: seconds -> milliseconds (SONATA times are in ms)
MS_PER_S = 1e3

#: elements per chunk of a 1-D stream, and bytes per chunk of a 2-D (report) stream
CHUNK_ELEMENTS = 1 << 16
CHUNK_BYTES = 1 << 18


def write_root_attrs(f: h5py.File) -> None:
    """Write the ``magic`` and ``version`` root attributes of a SONATA file."""
    f.attrs["magic"] = np.uint32(MAGIC)
    f.attrs["version"] = np.array(VERSION, dtype=np.uint32)


def report_name(population: str, variable: str, variables: tuple[str, ...]) -> str:
    """Report population of ``variable``: ``v`` (else the first variable) gets the population's
    own name, every other variable ``<population>.<variable>``."""
    primary = "v" if "v" in variables else variables[0]
    return population if variable == primary else f"{population}.{variable}"


def result_groups(kind: str, population: str, variables: tuple[str, ...] = ()) -> list[str]:
    """The HDF5 groups a monitor of ``kind`` (spikes, rate, state) on ``population`` writes."""
    if kind == "spikes":
        return [f"/spikes/{population}"]
    if kind == "rate":
        return [f"/rates/{population}"]
    return [f"/report/{report_name(population, var, variables)}" for var in variables]


def report_units(variable: str, dimension: str | None) -> tuple[str, float]:
    """``(units, factor from SI)`` of a state variable of ``dimension`` (a name of
    :mod:`neurosim.units`: voltage in mV, current in nA, conductance in nS, ...) in a report."""
    if dimension not in REPORT_UNITS:
        raise ValueError(f"report: no file units known for state variable {variable!r} (dimension {dimension})")
    return REPORT_UNITS[dimension]


def to_si(units: str, where: str) -> tuple[float, str]:
    """``(factor, SI symbol)`` that converts values in ``units`` (as found at ``where``) to SI."""
    if units not in TO_SI:
        raise ValueError(f"{where}: unknown units {units!r}")
    return TO_SI[units]


def create_stream(group: h5py.Group, name: str, dtype: np.dtype | str, width: int | None = None,
                  compress: bool = False) -> h5py.Dataset:
    """An empty chunked dataset resizable along axis 0: 1-D, or ``(0, width)`` when ``width``
    is given. ``compress`` adds shuffle+gzip (never for SONATA groups)."""
    dtype = np.dtype(dtype)
    if width is None:
        shape, maxshape, chunks = (0,), (None,), (CHUNK_ELEMENTS,)
    else:
        rows = max(1, CHUNK_BYTES // max(1, width * dtype.itemsize))
        shape, maxshape, chunks = (0, width), (None, width or None), (rows, max(1, width))
    filters = {"compression": "gzip", "shuffle": True} if compress else {}
    return group.create_dataset(name, shape=shape, maxshape=maxshape, chunks=chunks, dtype=dtype, **filters)


def append(dataset: h5py.Dataset, values: np.ndarray) -> None:
    """Append ``values`` along axis 0 of a dataset made by :func:`create_stream`."""
    n = values.shape[0]
    if n == 0:
        return
    start = dataset.shape[0]
    dataset.resize(start + n, axis=0)
    dataset[start:start + n] = values
