"""The ``[model]`` table of an explicit network, and building a :class:`Network` from it.

    [[model.populations]]
    name = "exc"
    size = 800
    neuron = { model = "CubaLIF", tau_m = "20 ms", v_rest = "-49 mV" }
    v_init = { dist = "uniform", low = "-60 mV", high = "-50 mV" }
    initial = { i_exc = "10 pA" }   # other state variables, by name: values or distributions

    [[model.populations]]     # a model written as equations (Brian2 syntax, units checked)
    name = "adapting"
    size = 10
    [model.populations.neuron]
    model = "equations"
    equations = '''
        dv/dt = (v_rest - v)/tau + (i_syn - w)/c : volt
        di_syn/dt = -i_syn/tau_s : amp
        dw/dt = -w/tau_w : amp'''
    threshold = "v >= v_th"
    reset = "v = v_rest; w += b"
    refractory = "v = v_rest"
    receptors = ["i_syn", "i_syn"]
    parameters = { v_rest = "-65 mV", tau = "10 ms", c = "100 pF", tau_s = "5 ms", tau_w = "100 ms", v_th = "-50 mV", b = "20 pA", t_ref = "2 ms" }

    [[model.sources]]
    name = "noise"
    type = "poisson"          # or "spikes" with times = [...], indices = [...]
    size = 100
    rate = "20 Hz"            # each source spikes at most once per step, with probability rate·dt
                              # (exact mean rate; rate·dt > 1 is refused: use more sources)

    [[model.connections]]
    pre = "noise"             # a population or source, or a slice of one: "exc[0:400]", "exc[:400]", "exc[400:]"
    post = "exc"              # (neurons 0..399; contiguous, step 1; the connector sees the slice's size)
    connector = { type = "fixed_probability", p = 0.1 }
    weight = "20 pA"          # or { dist = "normal", mean = "20 pA", std = "5 pA" }
    delay = "1 ms"

    plasticity = { rule = "stdp", tau_pre = "20 ms", tau_post = "20 ms", a_plus = "0.5 pA",
                   a_minus = "0.6 pA", w_min = "0 pA", w_max = "40 pA", traces = "all_to_all",
                   dependence = "additive" }     # optional: see neurosim.plasticity.STDP; Vogels et al.
                                                 # (2011) iSTDP: a_plus = eta, a_minus = -eta, alpha = 2 rho_0 tau;
                                                 # triplet STDP: a3_plus, a3_minus, tau_x, tau_y;
                                                 # same_step = true pairs coincidences as Brian2

    [[model.modulators]]      # optional: learning-rate factors set each step (neurosim.modulator.Modulator)
    name = "astro"
    tau = "100 ms"
    weight = 0.015
    bias = 0.15
    acts_on = "depression"    # of every target given by name; or { connection = "...", acts_on = "..." }
    targets = ["exc_to_exc"]  # connection names (default name: "<pre>_to_<post>")
    drive = [{ population = "exc", coefficient = 1.0 }, { population = "noise", coefficient = -1.0 }]

    [[model.currents]]
    target = "exc"            # or a slice: "exc[400:800]"
    amplitudes = ["0 pA", "100 pA"]
    times = ["0 ms", "50 ms"]

    [[model.inputs]]          # per-target Poisson drive (Brian2's PoissonInput): every neuron of
    target = "exc"            # the target (or slice) gets its own Binomial(n, rate·dt) spikes per step,
    n = 1000                  # n virtual synapses (none stored)
    rate = "10 Hz"            # of each of them (rate·dt <= 1)
    weight = "0.1 mV"         # per spike, in the target model's weight unit
    receptor = "auto"         # "exc", "inh" or "auto" (by the weight's sign); start, stop, name optional

    [[model.noise]]           # white noise into a state variable (Brian2's "+ mean + sigma*xi"): an
    target = "exc"            # Ornstein-Uhlenbeck current / conductance where the variable decays
    sigma = "10 pA/ms**0.5"   # intensity: the variable's unit per square root of a time
    mean = "1 pA/ms"          # optional drift; variable (default: the excitatory receptor's), start, stop, name

Wherever a population is named (``pre``, ``post``, ``target``, and the ``populations`` of a
``[[record]]`` table), ``"P[a:b]"`` names its neurons ``a .. b-1`` (a
:class:`~neurosim.subgroup.Subgroup`; recorded node ids in the results file are ``P``'s own).
A spikes record with ``merge = true`` records all its ``populations`` in one monitor (so
several slices of one population can be recorded together into ``/spikes/P``).

The neuron table's keys are the fields of the neuron dataclass (one description serves
simulation, training and export): any model of :data:`neurosim.neurons.MODELS`, or
``model = "equations"`` with the keys of :class:`neurosim.neurons.EquationModel`. Errors raised while building carry the scenario path.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from neurosim import connectivity as conn
from neurosim.network import Network
from neurosim.neurons import MODELS, EquationModel, NeuronModel
from neurosim.plasticity import STDP
from neurosim.modulator import ACTS_ON
from neurosim.plasticity.stdp import DEPENDENCES, TRACES
from neurosim.scenario.schema import Field, Problem, ScenarioError, list_of, quantity, suggest, table, validate_table
from neurosim.subgroup import REFERENCE, slice_problem

NEURON_MODELS: dict[str, type[NeuronModel]] = dict(MODELS)
#: ``model = "equations"``: a model written in the table (:class:`neurosim.neurons.EquationModel`)
EQUATIONS = "equations"
_EQUATION_KEYS = {"model", "name", "equations", "threshold", "reset", "refractory", "initial", "method", "receptors",
                  "parameters"}
MAX_SIZE = 100_000_000

CONNECTORS: dict[str, tuple[type, dict[str, Field]]] = {
    "one_to_one": (conn.OneToOne, {}),
    "all_to_all": (conn.AllToAll, {"allow_autapses": Field("bool", default=False)}),
    "fixed_probability": (conn.FixedProbability, {
        "p": Field("float", required=True, minimum=0.0, maximum=1.0),
        "allow_autapses": Field("bool", default=False)}),
    "fixed_in_degree": (conn.FixedInDegree, {
        "k": Field("int", required=True, minimum=0), "allow_autapses": Field("bool", default=False)}),
    "fixed_out_degree": (conn.FixedOutDegree, {
        "k": Field("int", required=True, minimum=0), "allow_autapses": Field("bool", default=False)}),
    "distance": (conn.DistanceDependent, {
        "c": Field("float", required=True, minimum=0.0, maximum=1.0),
        "lam": Field("float", required=True, minimum=0.0, exclusive_minimum=True),
        "allow_autapses": Field("bool", default=False)}),
    "arrays": (conn.FromArrays, {
        "pre": list_of(Field("int", minimum=0), required=True), "post": list_of(Field("int", minimum=0), required=True),
        "weight": list_of(Field("any")), "delay": list_of(quantity("time"))}),
}

_VALUE = Field("union", options=(Field("float"), Field("str")), doc="a number or a unit string")
DISTRIBUTION = Field("union", doc="a value, a unit string or a table {dist = 'uniform'|'normal', ...}", options=(
    _VALUE,
    table({"dist": Field("str", required=True, choices=("uniform",)), "low": _VALUE, "high": _VALUE}),
    table({"dist": Field("str", required=True, choices=("normal",)), "mean": _VALUE, "std": _VALUE,
           "low": _VALUE, "high": _VALUE}),
))


def _neuron_spec(value: Any) -> str | None:
    """Check the neuron table against the fields of the chosen model class."""
    model = value.get("model")
    if model == EQUATIONS:
        unknown = [k for k in value if k not in _EQUATION_KEYS]
        if unknown:
            return f"{unknown[0]}: unknown key of a model written as equations{suggest(unknown[0], sorted(_EQUATION_KEYS))}"
        missing = [k for k in ("equations", "threshold") if k not in value]
        return f"{missing[0]}: required for model = 'equations'" if missing else None
    if model not in NEURON_MODELS:
        known = [*NEURON_MODELS, EQUATIONS]
        return f"model: unknown neuron model {model!r} (known: {', '.join(known)}){suggest(str(model), known)}"
    names = {f.name for f in dataclasses.fields(NEURON_MODELS[model])}
    unknown = [k for k in value if k != "model" and k not in names]
    if unknown:
        return f"{unknown[0]}: unknown parameter of {model}{suggest(unknown[0], sorted(names))}"
    return None


POPULATION = table({
    "name": Field("str", required=True),
    "size": Field("int", required=True, minimum=1, maximum=MAX_SIZE),
    "neuron": table({"model": Field("str", required=True)}, open=True, required=True, check=_neuron_spec),
    "v_init": DISTRIBUTION,
    "initial": table({}, open=True, check=lambda t: next((f"{k}: expected a value, a unit string or a table "
                                                           f"{{dist = ...}}" for k, v in t.items()
                                                           if not isinstance(v, (int, float, str, dict))), None)),
    "grid": list_of(Field("int", minimum=1), min_items=3, check=lambda g: None if len(g) == 3 else "needs 3 entries"),
})

SOURCE = table({
    "name": Field("str", required=True),
    "type": Field("str", required=True, choices=("poisson", "spikes")),
    "size": Field("int", required=True, minimum=1, maximum=MAX_SIZE),
    "rate": Field("union", options=(quantity("frequency", minimum=0.0), list_of(quantity("frequency", minimum=0.0))),
                  doc="a rate such as '10 Hz' or one per source"),
    "start": quantity("time", minimum=0.0),
    "stop": quantity("time", minimum=0.0, allow_inf=True),
    "times": list_of(quantity("time", minimum=0.0)),
    "indices": list_of(Field("int", minimum=0)),
})

PLASTICITY = table({
    "rule": Field("str", required=True, choices=("stdp",)),
    "tau_pre": quantity("time", default=0.02, minimum=0.0, exclusive_minimum=True),
    "tau_post": quantity("time", default=0.02, minimum=0.0, exclusive_minimum=True),
    "a_plus": Field("union", required=True, options=(Field("float"), Field("str")), doc="a number or a unit string"),
    "a_minus": Field("union", required=True, options=(Field("float"), Field("str")), doc="a number or a unit string"),
    "w_min": Field("union", default=0.0, options=(Field("float"), Field("str")), doc="a number or a unit string"),
    "w_max": Field("union", required=True, options=(Field("float"), Field("str")), doc="a number or a unit string"),
    "traces": Field("str", default="all_to_all", choices=TRACES),
    "dependence": Field("str", default="additive", choices=DEPENDENCES),
    "trace_increment": Field("float", default=1.0, minimum=0.0, exclusive_minimum=True),
    "alpha": Field("float", default=0.0, doc="subtracted from the postsynaptic trace at presynaptic arrivals"),
    "a3_plus": Field("union", default=0.0, options=(Field("float"), Field("str")),
                     doc="triplet potentiation amplitude (Pfister & Gerstner 2006): a number or a unit string"),
    "a3_minus": Field("union", default=0.0, options=(Field("float"), Field("str")),
                      doc="triplet depression amplitude: a number or a unit string"),
    "tau_x": quantity("time", default=0.101, minimum=0.0, exclusive_minimum=True),
    "tau_y": quantity("time", default=0.125, minimum=0.0, exclusive_minimum=True),
    "same_step": Field("bool", default=False, doc="pair a pre arrival and a post spike of one step, as Brian2 does"),
})

CONNECTION = table({
    "name": Field("str"),
    "pre": Field("str", required=True),
    "post": Field("str", required=True),
    "connector": table({"type": Field("str", required=True, choices=tuple(CONNECTORS))}, open=True, required=True),
    "weight": DISTRIBUTION,
    "delay": DISTRIBUTION,
    "receptor": Field("str", default="auto", choices=("auto", "exc", "inh")),
    "plasticity": PLASTICITY,
})

MODULATOR = table({
    "name": Field("str", required=True),
    "tau": quantity("time", required=True, minimum=0.0, exclusive_minimum=True),
    "weight": Field("float", required=True),
    "bias": Field("float", required=True),
    "initial": Field("float"),
    "acts_on": Field("str", default="depression", choices=ACTS_ON),
    "targets": list_of(Field("union", doc="a connection name or a table {connection = '...', acts_on = '...'}",
                             options=(Field("str"), table({"connection": Field("str", required=True),
                                                           "acts_on": Field("str", required=True, choices=ACTS_ON)}))),
                       required=True, min_items=1),
    "drive": list_of(table({"population": Field("str", required=True), "coefficient": Field("float", default=1.0)})),
})

CURRENT = table({
    "target": Field("str", required=True),
    "amplitudes": Field("union", required=True, options=(quantity("current"), list_of(quantity("current"), min_items=1)),
                        doc="a current such as '100 pA' or a list of them"),
    "times": list_of(quantity("time", minimum=0.0)),
    "indices": list_of(Field("int", minimum=0)),
})

INPUT = table({
    "target": Field("str", required=True),
    "n": Field("int", required=True, minimum=1, doc="input synapses per neuron"),
    "rate": quantity("frequency", required=True, minimum=0.0),
    "weight": Field("union", required=True, options=(Field("float"), Field("str")), doc="a number or a unit string"),
    "receptor": Field("str", default="auto", choices=("auto", "exc", "inh")),
    "start": quantity("time", minimum=0.0),
    "stop": quantity("time", minimum=0.0),
    "name": Field("str"),
})

NOISE = table({
    "target": Field("str", required=True),
    "sigma": Field("union", required=True, options=(Field("float"), Field("str")),
                   doc="intensity, e.g. '2 mV/ms**0.5' (the unit of the variable per square root of a time)"),
    "mean": Field("union", options=(Field("float"), Field("str")), doc="drift, e.g. '25 mV/ms'"),
    "variable": Field("str"),
    "start": quantity("time", minimum=0.0),
    "stop": quantity("time", minimum=0.0),
    "name": Field("str"),
})

EXPLICIT_MODEL_FIELDS = {
    "populations": list_of(POPULATION, min_items=1),
    "sources": list_of(SOURCE),
    "connections": list_of(CONNECTION),
    "currents": list_of(CURRENT),
    "inputs": list_of(INPUT),
    "noise": list_of(NOISE),
    "modulators": list_of(MODULATOR),
}


def _initializer(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    kind = value["dist"]
    args = {k: v for k, v in value.items() if k != "dist"}
    return conn.Uniform(**args) if kind == "uniform" else conn.Normal(**args)


def _connector(spec: dict, path: str) -> conn.Connector:
    cls, fields = CONNECTORS[spec["type"]]
    problems: list[Problem] = []
    args = validate_table({k: v for k, v in spec.items() if k != "type"}, table(fields), path, problems)
    if problems:
        raise ScenarioError(problems)
    try:
        return cls(**args)
    except ValueError as exc:
        raise ScenarioError([Problem(path, str(exc))]) from None


def _plasticity(spec: dict | None, path: str) -> STDP | None:
    """The rule of a connection's ``plasticity`` table; its errors name the field's path."""
    if spec is None:
        return None
    try:
        return STDP(**{k: v for k, v in spec.items() if k != "rule"})
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        if field.startswith("plasticity."):
            raise ScenarioError([Problem(f"{path}.{field.removeprefix('plasticity.')}", message)]) from None
        raise ScenarioError([Problem(path, str(exc))]) from None


def _neuron(model: str, population: str, params: dict) -> NeuronModel:
    """The neuron model of a ``neuron`` table (a built-in model, or one written as equations)."""
    if model == EQUATIONS:
        return EquationModel(**{"name": population, **params})
    return NEURON_MODELS[model](**params)


def resolve_group(groups: dict[str, Any], text: str, path: str) -> Any:
    """The population, source or slice ``"P"`` / ``"P[a:b]"`` names, else a :class:`ScenarioError` at ``path``."""
    match = REFERENCE.match(text)
    if match is None:
        raise ScenarioError([Problem(path, f"expected a population name or a slice such as P[0:100], got {text!r}")])
    name, start, stop, step = match.groups()
    if name not in groups:
        raise ScenarioError([Problem(path, f"unknown population {name!r}{suggest(name, list(groups))}")])
    group = groups[name]
    if "[" not in text:
        return group
    bound = [None if b in (None, "") else int(b) for b in (start, stop, step)]
    problem = slice_problem(name, group.size, *bound)
    if problem:
        raise ScenarioError([Problem(path, problem)])
    return group[bound[0]:bound[1]]


def build_explicit(model: dict, dt: float, seed: int, precision: str, block_steps: int = 10_000) -> Network:
    """Build the network of an explicit ``[model]`` table (connectivity is generated lazily)."""
    net = Network(dt=dt, seed=seed, precision=precision, block_steps=block_steps)
    groups: dict[str, Any] = {}

    def attempt(path: str, action):
        try:
            return action()
        except ScenarioError:
            raise
        except ValueError as exc:
            raise ScenarioError([Problem(path, str(exc))]) from None

    for k, pop in enumerate(model.get("populations", [])):
        path = f"model.populations.{k}"
        params = {key: v for key, v in pop["neuron"].items() if key != "model"}
        neuron = attempt(f"{path}.neuron", lambda: _neuron(pop["neuron"]["model"], pop["name"], params))
        groups[pop["name"]] = attempt(path, lambda: net.population(
            pop["name"], pop["size"], neuron, v_init=_initializer(pop.get("v_init")),
            initial={k: _initializer(v) for k, v in pop.get("initial", {}).items()},
            grid=tuple(pop["grid"]) if "grid" in pop else None))
    for k, src in enumerate(model.get("sources", [])):
        path = f"model.sources.{k}"
        if src["type"] == "poisson":
            if "rate" not in src:
                raise ScenarioError([Problem(f"{path}.rate", "required for a poisson source")])
            make = lambda: net.poisson_source(src["name"], src["size"], src["rate"], src.get("start", 0.0),  # noqa: E731
                                              src.get("stop"))
        else:
            make = lambda: net.spike_source(src["name"], src["size"], src.get("times", []), src.get("indices", []))  # noqa: E731
        groups[src["name"]] = attempt(path, make)
    for k, c in enumerate(model.get("connections", [])):
        path = f"model.connections.{k}"
        pre, post = (resolve_group(groups, c[end], f"{path}.{end}") for end in ("pre", "post"))
        connector = _connector(c["connector"], f"{path}.connector")
        rule = _plasticity(c.get("plasticity"), f"{path}.plasticity")
        attempt(path, lambda: net.connect(pre, post, connector,
                                          weight=_initializer(c.get("weight")), delay=_initializer(c.get("delay")),
                                          receptor=c["receptor"], name=c.get("name"), plasticity=rule))
    connections = {p.name: p for p in net.projections}
    for k, m in enumerate(model.get("modulators", [])):
        path = f"model.modulators.{k}"
        targets = []
        for i, t in enumerate(m["targets"]):
            name, kind = (t, m["acts_on"]) if isinstance(t, str) else (t["connection"], t["acts_on"])
            if name not in connections:
                raise ScenarioError([Problem(f"{path}.targets.{i}", f"unknown connection {name!r}"
                                                                    f"{suggest(name, list(connections))}")])
            targets.append((connections[name], kind))
        drive = []
        for i, d in enumerate(m.get("drive", [])):
            if d["population"] not in groups:
                raise ScenarioError([Problem(f"{path}.drive.{i}.population", f"unknown population "
                                             f"{d['population']!r}{suggest(d['population'], list(groups))}")])
            drive.append((groups[d["population"]], d["coefficient"]))
        attempt(path, lambda: net.modulator(m["name"], m["tau"], m["weight"], m["bias"], targets, drive,
                                            m["acts_on"], m.get("initial")))
    for k, cur in enumerate(model.get("currents", [])):
        path = f"model.currents.{k}"
        target = resolve_group(groups, cur["target"], f"{path}.target")
        attempt(path, lambda: net.current(target, cur["amplitudes"], cur.get("times", [0.0]),
                                          cur.get("indices")))
    for k, inp in enumerate(model.get("inputs", [])):
        path = f"model.inputs.{k}"
        target = resolve_group(groups, inp["target"], f"{path}.target")
        try:
            net.poisson_input(target, inp["n"], inp["rate"], inp["weight"], inp["receptor"],
                              inp.get("start", 0.0), inp.get("stop"), inp.get("name"))
        except ValueError as exc:
            raise _element_problem(exc, path) from None
    for k, noise in enumerate(model.get("noise", [])):
        path = f"model.noise.{k}"
        target = resolve_group(groups, noise["target"], f"{path}.target")
        try:
            net.noise_input(target, noise["sigma"], noise.get("mean", 0.0), noise.get("variable"),
                            noise.get("start", 0.0), noise.get("stop"), noise.get("name"))
        except ValueError as exc:
            raise _element_problem(exc, path) from None
    return net


def _element_problem(exc: ValueError, path: str) -> ScenarioError:
    """``"input.<name>.<field>: message"`` (an input or noise element's error) at ``<path>.<field>``."""
    where, _, message = str(exc).partition(": ")
    field = where.split(".", 2)[2] if where.count(".") >= 2 else ""
    return ScenarioError([Problem(f"{path}.{field}" if field else path, message or str(exc))])
