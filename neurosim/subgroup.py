"""Subgroups: contiguous slices ``P[a:b]`` of a population or spike source, used like one.

A :class:`Subgroup` is an index view: it adds no neurons to the network. Connections, currents
and monitors on it are resolved to the parent's neurons ``a .. b-1`` when the network is
flattened (its global offset is the parent's plus ``a``); monitors on it report indices
relative to the subgroup (``0 .. b-a-1``), as Brian2's subgroups do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: ``name`` or ``name[start:stop]`` (either end may be left out; a third field is a step)
REFERENCE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:\[\s*(-?\d*)\s*:\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?\])?\s*$")


def label(name: str, start: int, stop: int) -> str:
    """``"P[0:3200]"``."""
    return f"{name}[{start}:{stop}]"


def slice_problem(name: str, size: int, start: Any, stop: Any, step: Any = None) -> str | None:
    """What is wrong with the slice ``name[start:stop:step]`` of ``size`` neurons (None if nothing)."""
    shown = f"{name}[{'' if start is None else start}:{'' if stop is None else stop}" \
            f"{'' if step is None else f':{step}'}]"
    for bound in (start, stop, step):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
            return f"{shown} must have integer bounds, got {bound!r}"
    if step not in (None, 1):
        return f"{shown} has step {step}: only contiguous slices (step 1) are supported"
    a, b = 0 if start is None else start, size if stop is None else stop
    if a < 0 or b > size:
        return f"{shown} is out of range: {name} has {size} neurons"
    if a >= b:
        return f"{shown} is empty: start must be less than stop"
    return None


def bounds(size: int, start: int | None, stop: int | None) -> tuple[int, int]:
    """Open ends filled in: ``(start or 0, stop or size)``."""
    return (0 if start is None else start), (size if stop is None else stop)


@dataclass(frozen=True)
class Subgroup:
    """Neurons ``start .. stop-1`` of ``parent`` (a population or spike source; a slice of a
    subgroup is a subgroup of the same parent). Get it with ``parent[start:stop]``."""

    parent: Any  # a neurosim.population.Group
    start: int
    stop: int

    def __post_init__(self):
        problem = slice_problem(self.parent.name, self.parent.size, self.start, self.stop)
        if problem:
            raise ValueError(f"population.{self.parent.name}: {problem}")

    @classmethod
    def of(cls, parent: Any, key: Any) -> "Subgroup":
        """``parent[key]`` for a slice ``key`` (open ends allowed, step 1)."""
        if not isinstance(key, slice):
            raise ValueError(f"population.{parent.name}: index it with a slice such as {parent.name}[0:10], "
                             f"got {key!r}")
        problem = slice_problem(parent.name, parent.size, key.start, key.stop, key.step)
        if problem:
            raise ValueError(f"population.{parent.name}: {problem}")
        return cls(parent, *bounds(parent.size, key.start, key.stop))

    def __getitem__(self, key: Any) -> "Subgroup":
        inner = Subgroup.of(_Sized(self.name, self.size), key)
        return Subgroup(self.parent, self.start + inner.start, self.start + inner.stop)

    __iter__ = None  # a view of neurons, not a sequence of them

    @property
    def name(self) -> str:
        return label(self.parent.name, self.start, self.stop)

    @property
    def size(self) -> int:
        return self.stop - self.start

    def __len__(self) -> int:
        return self.size

    @property
    def network(self) -> Any:
        return self.parent.network

    @property
    def offset(self) -> int:
        """Global index of the subgroup's first neuron (valid once the network is built)."""
        return self.parent.offset + self.start

    @property
    def model(self) -> Any:
        return self.parent.model

    @property
    def positions(self) -> Any:
        pos = getattr(self.parent, "positions", None)
        return None if pos is None else pos[self.start:self.stop]

    def __repr__(self) -> str:
        return f"Subgroup({self.name!r})"


@dataclass(frozen=True)
class _Sized:
    name: str
    size: int


def parent_of(group: Any) -> Any:
    """The population (or source) whose neurons ``group`` is or views."""
    return group.parent if isinstance(group, Subgroup) else group


def first_of(group: Any) -> int:
    """Index in :func:`parent_of` of ``group``'s first neuron."""
    return group.start if isinstance(group, Subgroup) else 0
