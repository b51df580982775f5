"""Neuron models of a layout as Brian2 ``NeuronGroup``\\ s that integrate the models' own equations.

Part of the Brian2 backend (:mod:`neurosim.engine.brian2_backend`, whose docstring describes
the translation). This module turns the compiled models of ``layout.models`` and their
parameter values into groups, and maps neurosim's global neuron index and state codes
(``row * N + neuron``) onto (group, Brian variable, index in the group).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from neurosim.engine.layout import SEG_MODEL, SEG_START, SEG_STOP, Layout
from neurosim.neurons.dimensions import DIMENSIONLESS, Dim, named
from neurosim.neurons.equations import dimension, parse_expression, unit_constants

#: neurosim's refractory countdown and the external current: variables of every group
_ENGINE_LINES = ["i_ext : amp", "ref : integer", "clamp : integer"]
#: Brian's schedule of the refractory step (after the state updater, slot ``groups``): the
#: countdown, then the clamp statements (custom event ``clamping``) on the integrated state
CLAMP_AT = ("after_groups", 0)
CLAMPING_EVENT_AT = ("after_groups", 1)
CLAMPING_AT = ("after_groups", 2)
CURRENT = "i_ext"
CURRENT_DIM = named("current")


def _identifier(name: str) -> str:
    return re.sub(r"\W", "_", name.lower())


def brian_unit(dim: Dim) -> str:
    """A Brian unit expression for ``dim`` (SI base units; ``"1"`` when dimensionless)."""
    parts = []
    for base, exp in (("metre", dim.m), ("kilogram", dim.kg), ("second", dim.s), ("amp", dim.a)):
        if exp.denominator != 1:
            raise ValueError(f"brian2 backend: Brian cannot declare a unit with exponent {exp} ({dim})")
        if exp:
            parts.append(base if exp == 1 else f"{base}**{int(exp)}")
    return "*".join(parts) or "1"


def _statements(text: str) -> str:
    """Neurosim's ``;``-separated statements as Brian's newline-separated ones."""
    return "\n".join(part.split("#", 1)[0].strip() for part in re.split(r"[;\n]", text or "")
                     if part.split("#", 1)[0].strip())


def _split_arguments(text: str) -> list[str]:
    """The top-level comma-separated parts of ``text``."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _dims(model) -> dict[str, Dim]:
    dims = dict(model.param_dims)
    dims.update({e.var: e.dim for e in model.equations})
    dims[CURRENT] = named("current")
    return dims


def with_unit_infinities(text: str, model) -> str:
    """``text`` with each infinite bound of ``clip`` in the unit of the clipped value: neurosim's
    ``inf`` matches any unit, Brian's is dimensionless (``clip(v, -inf, v_peak)`` becomes
    ``clip(v, (-inf*volt), v_peak)``)."""
    dims = _dims(model)
    out, pos = [], 0
    for m in re.finditer(r"\bclip\s*\(", text):
        if m.start() < pos:
            continue
        depth, end = 1, m.end()
        while depth and end < len(text):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        args = _split_arguments(text[m.end():end - 1])
        if len(args) == 3 and any(re.fullmatch(r"\s*[+-]?\s*inf\s*", a) for a in args[1:]):
            expr = parse_expression(args[0], "clip")
            known = set(dims)
            units = unit_constants([expr], known)
            dim = dimension(expr, {**dims, **{u: d for u, (_, d) in units.items()}}, "clip")
            unit = brian_unit(dim)
            args = [f"({a.strip()}*{unit})" if i and re.fullmatch(r"\s*[+-]?\s*inf\s*", a) and unit != "1" else a
                    for i, a in enumerate(args)]
            out.append(text[pos:m.end()] + ",".join(args) + ")")
            pos = end
    out.append(text[pos:])
    return "".join(out)


def network_inputs(layout: Layout) -> tuple[float, list[dict[str, np.ndarray]]]:
    """``(dt, parameter values per segment)`` of ``layout``: SI float64 arrays by parameter name,
    what ``model.parameter_values(size, population)`` gives (``layout.dt``, ``layout.parameters``)."""
    if not layout.dt or len(layout.parameters) != layout.segments.shape[0]:
        raise RuntimeError("brian2 backend: the layout carries no time step or parameter values "
                           "(build it with neurosim.flatten.build_layout)")
    return float(layout.dt), [dict(p) for p in layout.parameters]


@dataclass
class GroupPlan:
    """One Brian ``NeuronGroup``: neurons (global ids, ascending) of one model whose parameters
    coincide in the same way (see :func:`plan_groups`)."""

    kind: int  # index into layout.models
    model: object  # CompiledModel
    ids: np.ndarray
    values: dict[str, np.ndarray]  # every parameter, per neuron of the group
    alias: dict[str, str]  # parameter -> the equal parameter the equations use instead


def _equation_parameters(model) -> list[str]:
    names = {s.name for e in model.equations for s in e.rhs.free_symbols}
    return [p for p, _ in model.param_dims if p in names]


def _coincidences(model, values: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Per neuron, which pairs of equation parameters of one dimension are equal (bool columns).

    Brian's ``exact`` method solves the equations with symbolic parameters: the closed form
    divides by differences of rates (``1/tau_m - 1/tau_syn``) and is NaN where two are equal.
    Neurons whose parameters coincide get a group of their own whose equations name the
    coinciding parameters alike, so sympy solves the degenerate case itself."""
    if model.description.method != "exact":
        return np.zeros((n, 0), bool)
    dims = dict(model.param_dims)
    names = _equation_parameters(model)
    cols = []
    for i, p in enumerate(names):
        for q in names[i + 1:]:
            if dims[p] == dims[q] and dims[p] != DIMENSIONLESS:
                cols.append(values[p] == values[q])
    return np.stack(cols, axis=1) if cols else np.zeros((n, 0), bool)


def _alias(model, pattern: np.ndarray) -> dict[str, str]:
    if model.description.method != "exact":
        return {}
    dims = dict(model.param_dims)
    names = _equation_parameters(model)
    alias, c = {}, 0
    for i, p in enumerate(names):
        for q in names[i + 1:]:
            if dims[p] == dims[q] and dims[p] != DIMENSIONLESS:
                if pattern[c] and q not in alias:
                    alias[q] = alias.get(p, p)
                c += 1
    return alias


def plan_groups(layout: Layout, parameters: list[dict[str, np.ndarray]]) -> list[GroupPlan]:
    """The neuron groups: one per model, split where equation parameters coincide (exact method)."""
    found: dict[tuple, list] = {}
    for seg, (a, b, kind) in enumerate(layout.segments[:, [SEG_START, SEG_STOP, SEG_MODEL]].tolist()):
        model = layout.models[kind]
        n = b - a
        values = {p: np.broadcast_to(np.asarray(parameters[seg][p], np.float64), (n,)) for p, _ in model.param_dims}
        coin = _coincidences(model, values, n)
        patterns, which = np.unique(coin, axis=0, return_inverse=True)
        which = np.asarray(which).reshape(-1)
        for k, pattern in enumerate(patterns):
            sel = np.flatnonzero(which == k)
            part = (a + sel, {p: v[sel] for p, v in values.items()})
            found.setdefault((kind, tuple(pattern.tolist())), []).append(part)
    plans = []
    for (kind, pattern), parts in found.items():
        model = layout.models[kind]
        ids = np.concatenate([p[0] for p in parts]).astype(np.int64)
        values = {name: np.concatenate([p[1][name] for p in parts]) for name, _ in model.param_dims}
        order = np.argsort(ids, kind="stable")
        plans.append(GroupPlan(kind, model, ids[order], {k: v[order] for k, v in values.items()},
                               _alias(model, np.array(pattern, bool))))
    plans.sort(key=lambda p: int(p.ids[0]))
    return plans


def equations_text(plan: GroupPlan, shared: dict[str, bool], extra: list[str]) -> str:
    """The group's Brian equations: the description's, parameters (with their units), engine variables."""
    text = with_unit_infinities(plan.model.description.equations, plan.model)
    for p, q in plan.alias.items():
        text = re.sub(rf"\b{re.escape(p)}\b", q, text)
    lines = [line.split("#", 1)[0].rstrip() for line in text.strip().splitlines()]
    lines = [line.strip() for line in lines if line.strip()]
    for p, dim in plan.model.param_dims:
        lines.append(f"{p} : {brian_unit(dim)} (constant{', shared' if shared[p] else ''})")
    lines += _ENGINE_LINES
    lines.append(f"ref_steps : integer (constant{', shared' if shared['ref_steps'] else ''})")
    return "\n".join(lines + extra)


class Neurons:
    """The Brian groups of all neurons and the map from neurosim's indices onto them."""

    def __init__(self, b2, layout: Layout, parameters: list[dict[str, np.ndarray]], clock,
                 extra_lines: list[str] | None = None, events: dict | None = None, reset_extra: str = ""):
        n = layout.n_neurons
        self.n = n
        self.plans = plan_groups(layout, parameters)
        self.groups = []
        self.group_of = np.zeros(n, np.int64)
        self.local = np.zeros(n, np.int64)
        tb = layout.table
        for g, plan in enumerate(self.plans):
            self.group_of[plan.ids] = g
            self.local[plan.ids] = np.arange(plan.ids.size)
            ref_steps = tb.ref_steps[plan.ids].astype(np.int64)
            shared = {p: bool(np.all(v == v[0])) for p, v in plan.values.items()}
            shared["ref_steps"] = bool(np.all(ref_steps == ref_steps[0]))
            d = plan.model.description
            if d.timing != "grid":
                raise ValueError(f"simulation.backend: brian2 has no continuous refractory timing (model "
                                 f"{plan.model.name!r}, timing = {d.timing!r}); use timing = 'grid' or another backend")
            clamp = with_unit_infinities(_statements(d.refractory), plan.model)
            group_events = dict(events or {})
            if clamp:
                group_events["clamping"] = "clamp > 0"
            reset = with_unit_infinities(_statements(d.reset), plan.model)
            reset = "\n".join(x for x in (reset, "ref = ref_steps", reset_extra) if x)
            threshold = f"({with_unit_infinities(d.threshold, plan.model)}) and clamp == 0"
            group = b2.NeuronGroup(plan.ids.size, equations_text(plan, shared, list(extra_lines or [])),
                                   threshold=threshold, reset=reset, method=d.method,
                                   events=group_events, clock=clock, name=f"neurons_{g}_{_identifier(plan.model.name)}*")
            group.resetter["spike"].when = "after_thresholds"
            for p, v in plan.values.items():
                setattr(group, p + "_", v[0] if shared[p] else v)
            group.ref_steps = ref_steps[0] if shared["ref_steps"] else ref_steps
            group.run_regularly("clamp = int(ref > 0)\nref = ref - clamp", when=CLAMP_AT[0], order=CLAMP_AT[1])
            if clamp:
                group.thresholder["clamping"].when, group.thresholder["clamping"].order = CLAMPING_EVENT_AT
                group.run_on_event("clamping", clamp, when=CLAMPING_AT[0], order=CLAMPING_AT[1])
            self.groups.append(group)

    # --- indices ---------------------------------------------------------------------------
    def variable(self, g: int, row: int) -> str:
        """Brian variable of state row ``row`` (``len(state)``: the external current) of group ``g``."""
        state = self.plans[g].model.state
        return CURRENT if row == len(state) else state[row]

    def split_codes(self, codes: np.ndarray, n_rows: int):
        """State codes ``row * N + neuron`` (``row == n_rows``: external current) by (group, variable):
        yields ``(group index, variable, selection into codes, local indices)``."""
        codes = np.asarray(codes, np.int64)
        n = max(self.n, 1)
        row, post = codes // n, codes % n
        g_of = self.group_of[post]
        for g, plan in enumerate(self.plans):
            k = len(plan.model.state)
            for r in np.unique(row[g_of == g]).tolist():
                sel = np.flatnonzero((g_of == g) & (row == r))
                if r == n_rows:
                    var = CURRENT
                elif r < k:
                    var = plan.model.state[r]
                else:
                    raise ValueError(f"brian2 backend: state row {r} of a {plan.model.name} neuron does not exist")
                yield g, var, sel, self.local[post[sel]]

    def split_ids(self, ids: np.ndarray):
        """Global neuron ids by group: yields ``(group index, selection into ids, local indices)``."""
        ids = np.asarray(ids, np.int64)
        g_of = self.group_of[ids]
        for g in np.unique(g_of).tolist():
            sel = np.flatnonzero(g_of == g)
            yield g, sel, self.local[ids[sel]]

    def unit(self, g: int, var: str, power: int = 1) -> str:
        """Brian unit of variable ``var`` of group ``g`` (raised to ``power``)."""
        model = self.plans[g].model
        dim = CURRENT_DIM if var == CURRENT else model.state_dims[model.state.index(var)]
        return brian_unit(dim ** power)

    # --- state --------------------------------------------------------------------------------
    def set_state(self, state: np.ndarray, ref: np.ndarray) -> None:
        """Initial values: ``state`` (K + 1, N), rows of ``layout.state.vars`` then the external current."""
        k_all = state.shape[0] - 1
        for plan, group in zip(self.plans, self.groups):
            for r, x in enumerate(plan.model.state):
                setattr(group, x + "_", state[r, plan.ids])
            group.i_ext_ = state[k_all, plan.ids]
            group.ref = ref[plan.ids].astype(np.int64)

    def write_back(self, layout: Layout) -> None:
        st = layout.state
        for plan, group in zip(self.plans, self.groups):
            for r, x in enumerate(plan.model.state):
                st.vars[r, plan.ids] = getattr(group, x + "_")[:]
            st.i_ext[plan.ids] = group.i_ext_[:]
            st.ref[plan.ids] = group.ref_[:]

    def gather(self, name: str) -> np.ndarray:
        """A variable every group has, as one array over all neurons."""
        out = np.zeros(self.n)
        for plan, group in zip(self.plans, self.groups):
            out[plan.ids] = getattr(group, name + "_")[:]
        return out
