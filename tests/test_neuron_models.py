"""Neuron models against high-accuracy reference solutions written out independently here.

Each reference integrates the model's ODEs as published (Naud et al. 2008 / Brette & Gerstner
2005 for AdEx, Izhikevich 2003, Traub & Miles' HH of the COBAHH benchmark; mV, ms, pA, nS, pF,
so none of neurosim's code or unit handling is reused) with ``scipy.integrate.solve_ivp``
(DOP853, rtol 1e-11) and the engine's grid convention: integrate continuously; the spike of a
threshold crossing at ``t*`` is on the first grid point ``t_k >= t*`` (the engine detects it in
the step ending at ``t_k``); the reset is applied there and integration restarts from ``t_k``.
So neurosim and the reference differ by neurosim's integration error only.

Between ``t*`` and ``t_k`` the published models have already spiked: the AdEx and Izhikevich
membrane runs away to infinity within a fraction of a millisecond, so the reference holds ``v``
at the peak there and lets the slow variable relax with that ``v`` (NEST's ``aeif`` convention:
the exponential and the adaptation see ``min(v, V_peak)``); over less than one step that is a
small fraction of ``b`` resp. ``d``. Near the AdEx peak the ODE is so stiff (dv/dt ~ 1e10 mV/ms at 0 mV)
that the reference switches to ``v`` as the independent variable for the last 5 Delta_T.

The firing patterns run in one :class:`~neurosim.Network` (an AdEx population of the five Naud
patterns and an Izhikevich population of the five regimes, per-neuron parameter arrays, drive
by ``i_bias``) on the numpy and the numba backend, which must agree spike for spike and in every
state sample bit for bit. The closed-form, error-order and unit tests run a model's generated
step (``model.compiled.numpy_step``) directly, at several dt each.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from neurosim import Network
from neurosim.neurons import ALIF, AdEx, AlphaLIF, CobaLIF, CubaLIF, HodgkinHuxley, Izhikevich
from neurosim.neurons.description import Description, compile_model
from neurosim.neurons.dimensions import named

MS, MV, PA, NS, PF = 1e-3, 1e-3, 1e-12, 1e-9, 1e-12
BACKENDS = ["numpy", "numba"]


# --- neurosim: the generated step on per-neuron rows ---------------------------------------


def simulate(model, n: int, dt_ms: float, steps: int, i_ext_pa, init: dict | None = None,
             record: bool = False):
    """Run ``steps`` steps of ``model`` (``n`` neurons) with the constant current ``i_ext_pa``.

    ``init``: initial values (SI) of state variables (others: the model's own initial state at
    ``v``). Returns the spike steps of each neuron (a spike found in step m is at step m+1) and,
    with ``record``, the states on the grid ``{var: (steps+1, n)}`` (SI).
    """
    c = model.compiled
    dt = dt_ms * MS
    rows, ref_steps = model.kernel_rows(n, dt, "p")
    init = dict(init or {})
    v0 = np.broadcast_to(np.asarray(init.get("v", np.atleast_1d(model.v_rest)), float), (n,))
    state = c.initial_state(model.parameter_values(n, "p"), v0.copy())
    for k, val in init.items():
        state[k] = np.broadcast_to(np.asarray(val, float), (n,)).copy()
    s = [state[x] for x in c.state]
    ref = np.zeros(n, np.int32)
    i_ext = np.broadcast_to(np.asarray(i_ext_pa, float) * PA, (n,)).copy()
    args = [rows[r] for r in c.rows]
    spikes = [[] for _ in range(n)]
    trace = np.empty((steps + 1, len(s), n)) if record else None
    if record:
        trace[0] = s
    for m in range(steps):
        out = c.numpy_step(*s, ref, i_ext, *args, ref_steps)
        s, ref, spike = list(out[:len(s)]), out[len(s)], out[-1]
        for j in np.flatnonzero(spike):
            spikes[j].append(m + 1)
        if record:
            trace[m + 1] = s
    spikes = [np.array(x, dtype=int) for x in spikes]
    if record:
        return spikes, {x: trace[:, i, :] for i, x in enumerate(c.state)}
    return spikes


# --- references (mV, ms, pA, nS, pF) --------------------------------------------------------


def reference_train(f, y0, dt, steps, peak, switch, reset, hold, atol):
    """Spike steps of ``y' = f(y)`` with a spike when ``y[0]`` reaches ``peak`` (grid convention above).

    ``switch``: below ``peak``, where the last stretch is integrated with ``v`` as the
    independent variable (``None``: not needed). ``hold(y, t)``: the state ``t`` ms after the
    crossing with ``v`` held at ``peak``; ``reset(y)``: the state after the reset.
    """
    y = np.asarray(y0, float)
    k0, out = 0, []
    level = peak if switch is None else switch
    event = lambda t, y: y[0] - level  # noqa: E731
    event.terminal, event.direction = True, 1
    rhs = lambda t, y: f(y)  # noqa: E731
    while True:
        sol = solve_ivp(rhs, (k0 * dt, steps * dt), y, method="DOP853", rtol=1e-11, atol=atol, events=event)
        assert sol.status >= 0, sol.message
        if not sol.t_events[0].size:
            return np.array(out, dtype=int)
        t_cross, y_cross = sol.t_events[0][0], sol.y_events[0][0]
        if switch is not None:  # dt/dv = 1/f_v, dy/dv = f_y/f_v up to the peak
            def by_v(v, z):
                d = f(np.concatenate([[v], z[1:]]))
                return np.concatenate([[1.0 / d[0]], d[1:] / d[0]])
            s = solve_ivp(by_v, (switch, peak), np.concatenate([[t_cross], y_cross[1:]]), method="DOP853",
                          rtol=1e-12, atol=np.concatenate([[1e-13], np.atleast_1d(atol)[1:]]))
            t_cross, y_cross = s.y[0, -1], np.concatenate([[peak], s.y[1:, -1]])
        k = int(np.ceil(t_cross / dt - 1e-9))
        if k > steps:
            return np.array(out, dtype=int)
        out.append(k)
        y, k0 = reset(hold(y_cross, k * dt - t_cross)), k


def adex_rhs(p, i_pa):
    """Brette & Gerstner (2005): C V' = -gL (V - EL) + gL DT exp((V - VT)/DT) - w + I, tw w' = a (V - EL) - w."""
    def f(y):
        v, w = y[0], y[1]
        return np.array([(-p["gL"] * (v - p["EL"]) + p["gL"] * p["DT"] * np.exp((v - p["VT"]) / p["DT"]) - w + i_pa)
                         / p["C"], (p["a"] * (v - p["EL"]) - w) / p["tw"]])
    return f


def adex_reference(p, i_pa, dt, steps, v0, w0=0.0):
    wp = p["a"] * (p["Vpeak"] - p["EL"])
    return reference_train(
        adex_rhs(p, i_pa), [v0, w0], dt, steps, p["Vpeak"], p["Vpeak"] - 5 * p["DT"],
        reset=lambda y: np.array([p["Vr"], y[1] + p["b"]]),
        hold=lambda y, t: np.array([p["Vpeak"], wp + (y[1] - wp) * np.exp(-t / p["tw"])]),
        atol=[1e-9, 1e-9])


def izhikevich_rhs(a, b, i):
    """Izhikevich (2003): v' = 0.04 v^2 + 5 v + 140 - u + I, u' = a (b v - u)."""
    return lambda y: np.array([0.04 * y[0] ** 2 + 5 * y[0] + 140 - y[1] + i, a * (b * y[0] - y[1])])


def izhikevich_reference(a, b, c, d, i, dt, steps, v0=-65.0):
    return reference_train(
        izhikevich_rhs(a, b, i), [v0, b * v0], dt, steps, 30.0, None,
        reset=lambda y: np.array([c, y[1] + d]),
        hold=lambda y, t: np.array([30.0, b * 30.0 + (y[1] - b * 30.0) * np.exp(-a * t)]),
        atol=[1e-9, 1e-9])


def isis(steps_, dt):
    return np.diff(steps_) * dt


def compare_isis(name, got, want, n):
    """The first ``n`` spikes: first spike and every ISI within one step of the reference."""
    assert len(got) >= n and len(want) >= n, f"{name}: {len(got)} spikes, reference {len(want)}"
    d_first = int(got[0] - want[0])
    d_isi = np.diff(got[:n]) - np.diff(want[:n])
    assert abs(d_first) <= 1 and np.all(np.abs(d_isi) <= 1), (
        f"{name}: first spike step {got[0]} vs reference {want[0]}; ISI differences (steps) {d_isi.tolist()}; "
        f"spike steps {got[:n].tolist()} vs reference {want[:n].tolist()}")
    return d_first, d_isi


def cv(x):
    return float(np.std(x) / np.mean(x))


# --- AdEx firing patterns (Naud et al. 2008, Table 1 / Fig. 2) -------------------------------

#: C (pF), gL (nS), EL (mV), VT (mV), DeltaT (mV), a (nS), tau_w (ms), b (pA), V_r (mV), I (pA)
NAUD = {
    "tonic": (200, 10, -70, -50, 2, 2, 30, 0, -58, 500),
    "adapting": (200, 12, -70, -50, 2, 2, 300, 60, -58, 500),
    "initial_burst": (130, 18, -58, -50, 2, 4, 150, 120, -50, 400),
    "regular_bursting": (200, 10, -58, -50, 2, 2, 120, 100, -46, 210),
    "irregular": (100, 12, -60, -50, 2, -11, 130, 30, -48, 160),
}
ADEX_PEAK = 0.0  # mV: spike cut-off (the exponential's runaway is complete long before)
ADEX_DT, ADEX_T = 0.02, 300.0  # ms (the Izhikevich population shares the network)
#: spikes compared with the reference: the irregular pattern is chaotic (a < 0, sensitive to
#: one-step shifts of a reset), so only its first spikes are determined by the model
ADEX_COMPARED = {"tonic": 15, "adapting": 8, "initial_burst": 6, "regular_bursting": 7, "irregular": 4}


def _naud(name):
    row = NAUD[name]
    return dict(zip(["C", "gL", "EL", "VT", "DT", "a", "tw", "b", "Vr"], row[:9]), Vpeak=ADEX_PEAK), row[9]


@pytest.fixture(scope="module")
def adex_references():
    steps = int(round(ADEX_T / ADEX_DT))
    return {name: adex_reference(*_naud(name), ADEX_DT, steps, v0=NAUD[name][2]) for name in NAUD}


def _adex_population_model():
    p = np.array([NAUD[k] for k in NAUD], float).T
    return AdEx(c_m=p[0] * PF, g_leak=p[1] * NS, v_rest=p[2] * MV, v_t=p[3] * MV, delta_t=p[4] * MV, a=p[5] * NS,
                tau_w=p[6] * MS, b=p[7] * PA, v_reset=p[8] * MV, v_peak=ADEX_PEAK * MV, t_ref=0.0,
                i_bias=p[9] * PA), p[2] * MV


def _izhikevich_population_model():
    p = np.array([IZHIKEVICH[k] for k in IZHIKEVICH], float).T
    # I (mV/ms) = i/c_m: with c_m = 1 nF, I = 10 is 10 nA
    return Izhikevich(a=p[0] / MS, b=p[1], c=p[2] * MV, d=p[3] * MV, v_peak=30 * MV, c_m=1e-9, t_ref=0.0,
                      i_bias=np.full(p.shape[1], IZ_I * 1e-9)), np.full(p.shape[1], -65 * MV)


@pytest.fixture(scope="module")
def network_runs():
    """Both pattern populations in one network, run on numpy and on numba: spike steps and states."""
    assert ADEX_DT == IZ_DT and ADEX_T == IZ_T
    out = {}
    for backend in BACKENDS:
        net = Network(dt=ADEX_DT * MS, seed=0)
        mons = {}
        for name, (model, v0) in {"adex": _adex_population_model(), "izh": _izhikevich_population_model()}.items():
            pop = net.population(name, len(v0), model, v_init=v0)
            mons[name] = (net.spike_monitor(pop), net.state_monitor(pop, model.state_variables), model, len(v0))
        net.run(ADEX_T * MS, backend=backend)
        res = {}
        for name, (sm, st, model, n) in mons.items():
            steps_ = np.rint(sm.t / (ADEX_DT * MS)).astype(int)
            res[name] = ([steps_[sm.i == j] for j in range(n)], {x: np.array(st[x]) for x in model.state_variables})
        out[backend] = res
    return out



@pytest.mark.parametrize("population", ["adex", "izh"])
def test_numba_and_numpy_spike_alike(network_runs, population):
    sp_np, sp_nb = network_runs["numpy"][population][0], network_runs["numba"][population][0]
    for j, (a, b) in enumerate(zip(sp_np, sp_nb)):
        assert np.array_equal(a, b), f"{population} neuron {j}: numpy {a[:10]} vs numba {b[:10]}"


@pytest.mark.parametrize("population", ["adex", "izh"])
def test_numba_and_numpy_states_bit_for_bit(network_runs, population):
    st_np, st_nb = network_runs["numpy"][population][1], network_runs["numba"][population][1]
    for x in st_np:
        same = st_np[x] == st_nb[x]
        assert same.all(), (f"{population}.{x}: {np.size(same) - same.sum()} of {np.size(same)} samples differ, "
                            f"first at (sample, neuron) {tuple(np.argwhere(~same)[0])}, "
                            f"max |numpy - numba| {np.nanmax(np.abs(st_np[x] - st_nb[x])):.3g}")


@pytest.fixture(scope="module", params=BACKENDS)
def adex_runs(request, network_runs, adex_references):
    """neurosim's spike steps and the reference's, per pattern."""
    got = network_runs[request.param]["adex"][0]
    return {name: (got[j], adex_references[name]) for j, name in enumerate(NAUD)}


@pytest.mark.parametrize("pattern", list(NAUD))
def test_adex_spike_steps_match_reference(adex_runs, pattern):
    """First spike and each ISI of the first N spikes within one step (0.02 ms) of the reference."""
    got, want = adex_runs[pattern]
    compare_isis(f"AdEx {pattern}", got, want, ADEX_COMPARED[pattern])


def check_tonic(d):
    assert len(d) >= 20, d
    late = d[-10:]
    assert np.ptp(late) <= 0.005 * late.mean(), f"tonic: late ISIs not constant {late}"
    assert np.all(np.abs(d - late.mean()) <= 0.1 * late.mean()), f"tonic: ISIs {d} vary > 10%"


def check_adapting(d):
    assert len(d) >= 5, d
    assert np.all(np.diff(d) >= -ADEX_DT), f"adapting: ISIs not increasing {d}"
    assert d[-1] >= 4 * d[0] and d.min() > 5, f"adapting: ISIs {d}"


def check_initial_burst(d):
    assert len(d) >= 4, d
    assert np.all(d[:2] < 10) and np.all(d[2:] > 40), f"initial burst: ISIs {d}"
    assert abs(d[-1] - d[-2]) <= 0.02 * d[-1], f"initial burst: not tonic after the burst {d}"


def check_regular_bursting(d):
    short, long_ = d < 10, d > 100
    assert np.all(short | long_), f"bursting: ISIs not bimodal {d}"
    assert long_.sum() >= 2 and short.sum() >= long_.sum(), f"bursting: ISIs {d}"
    assert not np.any(long_[1:] & long_[:-1]), f"bursting: a burst of one spike {d}"


def check_irregular(d):
    late = d[3:]
    assert len(late) >= 10, d
    turns = np.sum(np.diff(np.sign(np.diff(late))) != 0)
    assert cv(late) >= 0.35 and turns >= 5, f"irregular: CV {cv(late):.2f}, {turns} turns, ISIs {d}"


PATTERN_CHECKS = {"tonic": check_tonic, "adapting": check_adapting, "initial_burst": check_initial_burst,
                  "regular_bursting": check_regular_bursting, "irregular": check_irregular}


@pytest.mark.parametrize("pattern", list(NAUD))
def test_adex_firing_pattern(adex_runs, pattern):
    """neurosim's spike train shows the pattern (ISIs in ms)."""
    got, _ = adex_runs[pattern]
    assert len(got) < 1000, f"AdEx {pattern}: runaway firing, {len(got)} spikes in {ADEX_T} ms"
    PATTERN_CHECKS[pattern](isis(got, ADEX_DT))


def test_adex_pattern_criteria_on_the_references(adex_references):
    """Each criterion holds for its own pattern's reference train and fails on every other one."""
    trains = {name: isis(r, ADEX_DT) for name, r in adex_references.items()}
    for name, check in PATTERN_CHECKS.items():
        check(trains[name])
        for other, d in trains.items():
            if other != name:
                with pytest.raises(AssertionError):
                    check(d)


# --- Izhikevich (2003) regimes, Fig. 2: a (1/ms), b, c (mV), d (mV); I = 10 ---------------------

IZHIKEVICH = {"RS": (0.02, 0.2, -65, 8), "IB": (0.02, 0.2, -55, 4), "CH": (0.02, 0.2, -50, 2),
              "FS": (0.1, 0.2, -65, 2), "LTS": (0.02, 0.25, -65, 2)}
IZ_DT, IZ_T, IZ_I = ADEX_DT, ADEX_T, 10.0
#: spikes compared one by one: in the tonic steady state the ISI sequence depends on where each
#: crossing falls between grid points (the reference's own ISIs wander by 1-2 steps), so after
#: the transient only the mean ISI is compared
IZ_COMPARED = 8


@pytest.fixture(scope="module")
def izhikevich_references():
    steps = int(round(IZ_T / IZ_DT))
    return {name: izhikevich_reference(*IZHIKEVICH[name], IZ_I, IZ_DT, steps) for name in IZHIKEVICH}


@pytest.fixture(scope="module", params=BACKENDS)
def izhikevich_runs(request, network_runs, izhikevich_references):
    got = network_runs[request.param]["izh"][0]
    return {name: (got[j], izhikevich_references[name]) for j, name in enumerate(IZHIKEVICH)}


@pytest.mark.parametrize("regime", list(IZHIKEVICH))
def test_izhikevich_spike_steps_match_reference(izhikevich_runs, regime):
    """First 8 spikes: first spike and each ISI within one step (0.02 ms); then the mean ISI within 0.5%."""
    got, want = izhikevich_runs[regime]
    compare_isis(f"Izhikevich {regime}", got, want, IZ_COMPARED)
    assert abs(len(got) - len(want)) <= 1, (len(got), len(want))
    n = min(len(got), len(want))
    mean_got, mean_want = np.diff(got[:n]).mean(), np.diff(want[:n]).mean()
    assert mean_got == pytest.approx(mean_want, rel=5e-3)


def check_rs(d):  # regular spiking: slower, adapting, then regular
    assert len(d) >= 4 and d.min() > 15, f"RS: ISIs {d}"
    assert d[0] < 0.7 * d[-1] and np.ptp(d[1:]) <= 0.01 * d[-1], f"RS: ISIs {d}"


def check_ib(d):  # intrinsically bursting: an initial burst, then tonic
    assert len(d) >= 5 and np.all(d[:2] < 6) and np.all(d[2:] > 20), f"IB: ISIs {d}"
    assert np.ptp(d[-4:]) <= 0.01 * d[-1], f"IB: not tonic after the burst {d}"


def check_ch(d):  # chattering: repeated bursts of >= 3 spikes
    long_ = d > 30
    assert np.all(long_ | (d < 6)), f"CH: ISIs not bimodal {d}"
    bursts = np.split(d, np.flatnonzero(long_))
    assert long_.sum() >= 3 and all(len(b) - (1 if k else 0) >= 2 for k, b in enumerate(bursts[:-1])), \
        f"CH: ISIs {d}"


def check_fs(d):  # fast spiking: high rate, little adaptation
    assert 1000 / d[-1] > 100 and d[-1] < 2 * d[0] and d.max() < 10, f"FS: ISIs {d}"


def check_lts(d):  # low-threshold spiking: high initial rate, strong monotone adaptation, still > 50 Hz
    assert np.all(d[:3] < 5) and d[-1] > 3 * d[0] and 1000 / d.max() > 50, f"LTS: ISIs {d}"
    assert np.all(np.diff(d) >= -3 * IZ_DT), f"LTS: ISIs not increasing {d}"


REGIME_CHECKS = {"RS": check_rs, "IB": check_ib, "CH": check_ch, "FS": check_fs, "LTS": check_lts}


@pytest.mark.parametrize("regime", list(IZHIKEVICH))
def test_izhikevich_regime(izhikevich_runs, regime):
    got, _ = izhikevich_runs[regime]
    REGIME_CHECKS[regime](isis(got, IZ_DT))


def test_izhikevich_regime_criteria_on_the_references(izhikevich_references):
    """Each criterion holds for its own regime's reference train and fails on every other one."""
    trains = {name: isis(want, IZ_DT) for name, want in izhikevich_references.items()}
    for name, check in REGIME_CHECKS.items():
        check(trains[name])
        for other, d in trains.items():
            if other != name:
                with pytest.raises(AssertionError):
                    check(d)


# --- error order -------------------------------------------------------------------------------


def hh_rates(v, vt=-63.0):
    """Traub & Miles' rates (1/ms) of the COBAHH benchmark, v in mV."""
    u = v - vt
    am = 0.32 * (13 - u) / (np.exp((13 - u) / 4) - 1)
    bm = 0.28 * (u - 40) / (np.exp((u - 40) / 5) - 1)
    ah = 0.128 * np.exp((17 - u) / 18)
    bh = 4 / (1 + np.exp((40 - u) / 5))
    an = 0.032 * (15 - u) / (np.exp((15 - u) / 5) - 1)
    bn = 0.5 * np.exp((10 - u) / 40)
    return am, bm, ah, bh, an, bn


def hh_rhs(i_pa, c=200.0, gl=10.0, el=-60.0, gna=20000.0, ena=50.0, gk=6000.0, ek=-90.0):
    def f(t, y):
        v, m, h, n = y
        am, bm, ah, bh, an, bn = hh_rates(v)
        dv = (gl * (el - v) - gna * m ** 3 * h * (v - ena) - gk * n ** 4 * (v - ek) + i_pa) / c
        return [dv, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]
    return f


def hh_initial(v):
    am, bm, ah, bh, an, bn = hh_rates(v)
    return [v, am / (am + bm), ah / (ah + bh), an / (an + bn)]


def grid_errors(run, reference, dts, t_end, every_ms):
    """Max |neurosim - reference| on the grid every ``every_ms`` in [0, t_end], for each dt."""
    t = np.arange(0, t_end + 1e-9, every_ms)
    want = reference(t)
    return np.array([np.abs(run(dt)[::int(round(every_ms / dt))] - want).max() for dt in dts])


def test_hodgkin_huxley_exponential_euler_is_first_order():
    """v from -65 mV relaxing to rest (gates at their -65 mV steady state): error(dt)/error(dt/2) ~ 2."""
    t_end, dts = 10.0, [0.04, 0.02, 0.01]
    ref = solve_ivp(hh_rhs(0.0), (0, t_end), hh_initial(-65.0), method="DOP853", rtol=1e-12, atol=1e-12,
                    dense_output=True)

    def run(dt):
        spikes, tr = simulate(HodgkinHuxley(), 1, dt, int(round(t_end / dt)), 0.0, init={"v": -65 * MV}, record=True)
        assert not len(spikes[0])
        return tr["v"][:, 0] / MV

    err = grid_errors(run, lambda t: ref.sol(t)[0], dts, t_end, dts[0])
    ratios = err[:-1] / err[1:]
    assert np.all((ratios > 1.8) & (ratios < 2.3)), f"HH errors {err} mV, ratios {ratios}"
    assert err[-1] < 2e-3, err


def test_adex_rk4_is_fourth_order():
    """Tonic AdEx before its first spike (0-12 ms, v up to ~-45 mV): error(dt)/error(dt/2) ~ 16."""
    t_end, dts = 12.0, [0.4, 0.2, 0.1]
    p, i_pa = _naud("tonic")
    ref = solve_ivp(lambda t, y: adex_rhs(p, i_pa)(y), (0, t_end), [p["EL"], 0.0], method="DOP853", rtol=1e-13,
                    atol=1e-12, dense_output=True)
    model = AdEx(c_m=p["C"] * PF, g_leak=p["gL"] * NS, v_rest=p["EL"] * MV, v_t=p["VT"] * MV, delta_t=p["DT"] * MV,
                 a=p["a"] * NS, tau_w=p["tw"] * MS, b=p["b"] * PA, v_reset=p["Vr"] * MV, v_peak=ADEX_PEAK * MV)

    def run(dt):
        spikes, tr = simulate(model, 1, dt, int(round(t_end / dt)), i_pa, init={"v": p["EL"] * MV, "w": 0.0},
                              record=True)
        assert not len(spikes[0])
        return tr["v"][:, 0] / MV

    err = grid_errors(run, lambda t: ref.sol(t)[0], dts, t_end, dts[0])
    ratios = err[:-1] / err[1:]
    assert np.all((ratios > 12) & (ratios < 20)), f"AdEx errors {err} mV, ratios {ratios}"


# --- models integrated exactly: closed forms -------------------------------------------------


@pytest.mark.parametrize("receptor,tau_ms", [("exc", 2.0), ("inh", 5.0)])
def test_alpha_lif_psc_peaks_at_the_weight_at_tau(receptor, tau_ms):
    """A spike of weight w at t = 0: i(t) = w (t/tau) e^{1 - t/tau}; v the LIF driven by it."""
    dt, w, steps = 0.1, 300.0 if receptor == "exc" else -300.0, 400
    model = AlphaLIF(tau_m="20 ms", c_m="200 pF", v_rest="-65 mV", v_th="0 mV", v_reset="-65 mV",
                     tau_syn_exc=f"{tau_ms if receptor == 'exc' else 2.0} ms",
                     tau_syn_inh=f"{tau_ms if receptor == 'inh' else 2.0} ms")
    spikes, tr = simulate(model, 1, dt, steps, 0.0, init={"v": -65 * MV, f"y_{receptor}": w * PA}, record=True)
    t = np.arange(steps + 1) * dt
    i = tr[f"i_{receptor}"][:, 0] / PA
    np.testing.assert_allclose(i, w * t / tau_ms * np.exp(1 - t / tau_ms), rtol=0, atol=1e-10 * abs(w))
    assert np.argmax(np.abs(i)) == round(tau_ms / dt) and i[round(tau_ms / dt)] == pytest.approx(w, rel=1e-12)
    ref = solve_ivp(lambda s, y: [(-65 - y[0]) / 20 + w * s / tau_ms * np.exp(1 - s / tau_ms) / 200],
                    (0, t[-1]), [-65.0], method="DOP853", rtol=1e-12, atol=1e-12, t_eval=t)
    np.testing.assert_allclose(tr["v"][:, 0] / MV, ref.y[0], rtol=0, atol=1e-8)
    assert not len(spikes[0])


def test_cuba_lif_psp_is_the_closed_form():
    """i(0) = w: v - v_rest = w/C tau_m tau_s/(tau_s - tau_m) (e^{-t/tau_s} - e^{-t/tau_m})."""
    dt, w, tau_m, tau_s, c, steps = 0.1, 500.0, 20.0, 5.0, 200.0, 1000
    model = CubaLIF(tau_m=f"{tau_m} ms", c_m=f"{c} pF", v_rest="-65 mV", v_th="-40 mV", tau_syn_exc=f"{tau_s} ms")
    spikes, tr = simulate(model, 1, dt, steps, 0.0, init={"v": -65 * MV, "i_exc": w * PA}, record=True)
    t = np.arange(steps + 1) * dt
    psp = w / c * tau_m * tau_s / (tau_s - tau_m) * (np.exp(-t / tau_s) - np.exp(-t / tau_m))  # mV
    np.testing.assert_allclose(tr["v"][:, 0] / MV + 65, psp, rtol=0, atol=1e-10)
    np.testing.assert_allclose(tr["i_exc"][:, 0] / PA, w * np.exp(-t / tau_s), rtol=1e-12, atol=0)
    assert psp.max() > 5 and not len(spikes[0])


def test_alif_threshold_jump_and_decay_closed_form():
    """Constant drive: theta(t_k) = theta_plus sum over spikes s <= k of e^{-(k - s) dt/tau_theta};
    v after the clamp is v_inf + (v_reset - v_inf) e^{-t/tau_m}; spikes exactly where v >= v_th + theta."""
    dt, steps, r_ref = 0.1, 3000, 20
    tau_m, tau_th, th_plus, v_inf = 20.0, 100.0, 2.0, -65 + 400 * 100e-3  # R I = 100 MOhm x 400 pA = 40 mV
    model = ALIF(tau_m="20 ms", c_m="200 pF", v_rest="-65 mV", v_th="-50 mV", v_reset="-65 mV", t_ref="2 ms",
                 tau_theta=f"{tau_th} ms", theta_plus=f"{th_plus} mV")
    spikes, tr = simulate(model, 1, dt, steps, 400.0, init={"v": -65 * MV}, record=True)
    s = spikes[0]
    k = np.arange(steps + 1)
    theta = (th_plus * np.exp(-np.subtract.outer(k, s) * dt / tau_th) * (np.subtract.outer(k, s) >= 0)).sum(1)
    np.testing.assert_allclose(tr["theta"][:, 0] / MV, theta, rtol=1e-11, atol=1e-12)
    last = np.concatenate([[0], s])[np.searchsorted(s, k, side="right")]  # last spike step <= k (0: start)
    free = np.where(np.searchsorted(s, k, side="right") > 0, k - last - r_ref, k)  # steps integrated since the clamp
    v = np.where(free > 0, v_inf + (-65 - v_inf) * np.exp(-np.maximum(free, 0) * dt / tau_m), -65.0)
    np.testing.assert_allclose(tr["v"][:, 0] / MV, v, rtol=0, atol=1e-9)
    # the spike rule on the closed form: v integrated since the clamp after the previous spike (before
    # the reset) against v_th + theta before this step's jump; refractory steps cannot fire
    before = np.searchsorted(s, k, side="left")  # spikes before step k
    prev = np.concatenate([[0], s])[before]
    free_prev = np.where(before > 0, k - prev - r_ref, k)
    v_free = v_inf + (-65 - v_inf) * np.exp(-np.maximum(free_prev, 0) * dt / tau_m)
    theta_before = theta - th_plus * np.isin(k, s)
    fires = (free_prev > 0) & (v_free >= -50 + theta_before)
    assert np.array_equal(np.flatnonzero(fires), s), (np.flatnonzero(fires)[:20], s[:20])
    isi = np.diff(s)
    assert len(s) > 10 and isi[-1] > isi[0] + 5, f"no threshold adaptation: ISIs {isi}"


def test_coba_lif_conductance_exact_and_v_first_order():
    """g(0) = w: g = w e^{-t/tau} exactly; v (exponential Euler) vs the reference: error halves with dt."""
    w, tau_s, t_end, dts = 5.0, 5.0, 20.0, [0.1, 0.05, 0.025]
    model = CobaLIF(tau_m="20 ms", c_m="200 pF", v_rest="-60 mV", v_th="-40 mV", v_reset="-60 mV",
                    tau_syn_exc=f"{tau_s} ms", e_exc="0 mV")
    ref = solve_ivp(lambda t, y: [(-60 - y[0]) / 20 + w * np.exp(-t / tau_s) * (0 - y[0]) / 200], (0, t_end), [-60.0],
                    method="DOP853", rtol=1e-12, atol=1e-12, dense_output=True)

    def run(dt):
        spikes, tr = simulate(model, 1, dt, int(round(t_end / dt)), 0.0, init={"v": -60 * MV, "g_exc": w * NS},
                              record=True)
        t = np.arange(len(tr["v"])) * dt
        np.testing.assert_allclose(tr["g_exc"][:, 0] / NS, w * np.exp(-t / tau_s), rtol=1e-12, atol=0)
        assert not len(spikes[0])
        return tr["v"][:, 0] / MV

    err = grid_errors(run, lambda t: ref.sol(t)[0], dts, t_end, dts[0])
    ratios = err[:-1] / err[1:]
    assert ref.sol(t_end / 4)[0] > -58 and np.all((ratios > 1.7) & (ratios < 2.3)), \
        f"CobaLIF errors {err} mV, ratios {ratios}"


# --- unit checking of user descriptions --------------------------------------------------------

USER_DIMS = {"tau": named("time"), "v_th": named("voltage"), "c_m": named("capacitance")}


def test_inconsistent_units_are_refused_naming_the_terms():
    with pytest.raises(ValueError, match=r"dv/dt.*i_ext.*-v/tau|dv/dt.*-v/tau.*i_ext"):
        compile_model("user", Description("dv/dt = -v/tau + i_ext : volt", "v > v_th"), USER_DIMS)
    with pytest.raises(ValueError, match=r"threshold"):
        compile_model("user", Description("dv/dt = -v/tau + i_ext/c_m : volt", "v > tau"), USER_DIMS)
    with pytest.raises(ValueError, match=r"reset.*v = 3\*ms"):
        compile_model("user", Description("dv/dt = -v/tau + i_ext/c_m : volt", "v > v_th", reset="v = 3*ms"),
                      USER_DIMS)


@pytest.mark.parametrize("field,text", [("equations", "dv/dt = -v/tau + i_ext/c_m + bogus_x/tau : volt"),
                                        ("threshold", "v > v_th + bogus_x")])
def test_unknown_symbol_is_refused_by_name(field, text):
    d = dict(equations="dv/dt = -v/tau + i_ext/c_m : volt", threshold="v > v_th")
    d[field] = text
    with pytest.raises(ValueError, match=rf"{field}.*bogus_x"):
        compile_model("user", Description(**d), USER_DIMS)


def test_reset_of_a_non_state_variable_is_refused():
    with pytest.raises(ValueError, match=r"reset.*'tau' is not a state variable"):
        compile_model("user", Description("dv/dt = -v/tau + i_ext/c_m : volt", "v > v_th", reset="tau = 1*ms"),
                      USER_DIMS)


def test_a_consistent_user_description_runs_exactly():
    """The checked description's generated step: dv/dt = -v/tau + i/c_m, exact, v(t) = R I (1 - e^{-t/tau})."""
    c = compile_model("user", Description("dv/dt = -v/tau + i_ext/c_m : volt", "v > v_th", reset="v = v_th/2"),
                      USER_DIMS)
    values = {"tau": np.array([0.02]), "v_th": np.array([1.0]), "c_m": np.array([200e-12])}
    rows = c.row_values(values, 1e-4)
    v, ref = np.zeros(1), np.zeros(1, np.int32)
    for _ in range(100):
        v, ref, spike = c.numpy_step(v, ref, np.array([100e-12]), *[rows[r] for r in c.rows], np.zeros(1, np.int32))
        assert not spike[0]
    assert v[0] == pytest.approx(100e-12 * 0.02 / 200e-12 * (1 - np.exp(-0.01 / 0.02)), rel=1e-12)


def test_zero_with_a_unit_is_a_quantity():
    """Brian2 writes a zero reset as ``v = 0*mV``: it is a voltage, not a dimensionless 0."""
    compile_model("user", Description("dv/dt = -v/tau + i_ext/c_m : volt", "v > v_th", reset="v = 0*mV"), USER_DIMS)
