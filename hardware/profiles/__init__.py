"""Target profiles: the limits of a chip or device that an exporter checks a model against.

A profile is a TOML file in this folder (or any path)::

    name = "loihi1"
    target = "loihi"                  # the exporter it applies to: loihi | c | onnx | nir
    description = "..."
    [limits]
    neurons_per_core = 1024           # numbers, or lists (e.g. the ONNX operators allowed)

``Profile.check(usage)`` compares what a model needs with the numeric limits and raises a
``ValueError`` naming the first limit exceeded; ``Profile.require_subset`` does the same for
list limits (e.g. the operators a graph uses).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

HERE = Path(__file__).parent
TARGETS = ("loihi", "c", "onnx", "nir")
#: the profile an exporter checks against when none is given (NIR has no limits)
DEFAULTS = {"loihi": "loihi2", "c": "cortex_m4", "onnx": "onnx_edge", "nir": None}


@dataclass(frozen=True)
class Profile:
    name: str
    target: str
    description: str = ""
    limits: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"profile {self.name!r}: target must be one of {', '.join(TARGETS)}, got {self.target!r}")
        for key, value in self.limits.items():
            ok = isinstance(value, list) or (isinstance(value, (int, float)) and not isinstance(value, bool)
                                             and value >= 0)
            if not ok:
                raise ValueError(f"profile {self.name!r}: limits.{key} must be a number >= 0 or a list, got {value!r}")
        object.__setattr__(self, "limits", MappingProxyType(dict(self.limits)))

    def limit(self, key: str) -> Any:
        if key not in self.limits:
            raise KeyError(f"profile {self.name!r} has no limit {key!r} (it has {', '.join(self.limits)})")
        return self.limits[key]

    def check(self, usage: Mapping[str, float]) -> None:
        """Raise ``ValueError`` naming the first ``usage[key]`` above ``limits[key]``; keys without a limit pass."""
        for key, value in usage.items():
            if key in self.limits and not isinstance(self.limits[key], list) and value > self.limits[key]:
                raise ValueError(f"profile {self.name!r}: the model needs {key} = {value:g}, "
                                 f"above the limit of {self.limits[key]:g}")

    def require_subset(self, key: str, used: Iterable[str]) -> None:
        """Raise ``ValueError`` if anything in ``used`` is not in the list ``limits[key]``."""
        extra = sorted(set(used) - set(self.limit(key)))
        if extra:
            raise ValueError(f"profile {self.name!r}: {key} {', '.join(extra)} not supported "
                             f"(allowed: {', '.join(self.limits[key])})")


def available() -> list[str]:
    """Names of the profiles shipped with neurosim."""
    return sorted(p.stem for p in HERE.glob("*.toml"))


def load(name_or_path: str | Path) -> Profile:
    """A shipped profile by name (``available()``) or a profile TOML file by path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = HERE / f"{name_or_path}.toml"
        if not path.is_file():
            raise ValueError(f"profile: unknown {name_or_path!r}; available: {', '.join(available())}")
    elif not path.is_file():
        raise ValueError(f"profile: no file {path}")
    with open(path, "rb") as f:
        data = tomllib.load(f)
    unknown = set(data) - {"name", "target", "description", "limits"}
    if unknown:
        raise ValueError(f"profile {path}: unknown keys {', '.join(sorted(unknown))}")
    for key in ("name", "target"):
        if key not in data:
            raise ValueError(f"profile {path}: missing {key!r}")
    return Profile(data["name"], data["target"], data.get("description", ""), data.get("limits", {}))


def resolve(profile: "str | Path | Profile | None", target: str) -> Profile | None:
    """``profile`` (a name, a TOML path or a Profile; None: the target's default) checked to
    belong to ``target``; raises ``ValueError`` naming the mismatch."""
    if target not in TARGETS:
        raise ValueError(f"target: must be one of {', '.join(TARGETS)}, got {target!r}")
    if profile is None:
        profile = DEFAULTS[target]
        if profile is None:
            return None
    prof = profile if isinstance(profile, Profile) else load(profile)
    if prof.target != target:
        raise ValueError(f"profile: {prof.name!r} is a {prof.target} profile, not for target {target!r}")
    return prof
