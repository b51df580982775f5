#!/usr/bin/env bash
# The real-GPU checks of the cuda backend, as one script: the tests that need a GPU, then the
# benchmarks, each writing its JSON under $OUT (default ./gpu_out). Run from the repository root
# on a machine with a CUDA GPU, numba-cuda, numpy, scipy, sympy, h5py, tqdm and matplotlib:
#
#     bash benchmarks/gpu_checks.sh            # the sections in order of importance; about 8 minutes on an H200
#     QUICK=1 bash benchmarks/gpu_checks.sh    # without the full-scale PD14
#     SKIP="cuba_sizes pd14_small" bash benchmarks/gpu_checks.sh   # leave sections out by name
#     EXTRA=1 bash benchmarks/gpu_checks.sh    # also launch shapes, the grid barrier and an ncu profile
#
# neurosim is installed editable without its dependencies (no network needed); wheels in .whl/
# (tomli-w) are installed first when present. Every section has its own time limit and the
# script goes on after a failing section, so one run reports everything it can.
set -u
OUT=${OUT:-$PWD/gpu_out}
LOGS=$(mktemp -d)  # one log per section, packed into $OUT/logs.tgz at the end
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY=${PY:-python3}
if ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=/tmp/site
fi
$PY -m pip install -q --no-index --no-deps --no-build-isolation -e . >"$LOGS/install.log" 2>&1 || cat "$LOGS/install.log"

section() {  # section NAME SECONDS COMMAND...: run with a time limit, output to $LOGS/NAME.log
    local name=$1 limit=$2
    shift 2
    case " ${SKIP:-} " in *" $name "*) echo "== $name skipped"; return;; esac
    echo "== $name ($(date +%T))"
    timeout "$limit" "$@" >"$LOGS/$name.log" 2>&1
    echo "   exit $? ($(date +%T))"
    tail -n 4 "$LOGS/$name.log" | cut -c 1-400
    grep -h '^{' "$LOGS/$name.log" | sed "s/^{/{\"section\": \"$name\", /" >>"$OUT/results.jsonl"
}

section env 30 bash -c "nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; nproc; \
    $PY -c 'import numba, numpy; from numba import cuda; print(numba.__version__, numpy.__version__, cuda.get_current_device().name)'; \
    $PY -m pip list 2>/dev/null | grep -i -E 'numba|cuda-python|cuda-bindings|torch|cupy|spikingjelly'"
section tests 200 $PY -m pytest -q tests/test_cuda_backend.py -k "${TESTS:-gpu and not simulator}" -p no:cacheprovider
section plastic 100 $PY benchmarks/gpu_plastic.py --duration 1   # the plastic persistent kernel against numba
section cuba_cuda 60 $PY benchmarks/cuba.py --no-brian2 --backend cuda --duration 1 --repeats 3
section cuba_numba 40 $PY benchmarks/cuba.py --no-brian2 --backend numba --duration 1 --repeats 3
for mode in push pull; do  # calibrates cuda_backend.PULL_FRACTION: the default (auto) pulls only in dense steps
    section "cuba_$mode" 60 env NEUROSIM_CUDA_DELIVERY=$mode $PY benchmarks/cuba.py --no-brian2 --backend cuda \
        --sizes 4000,40000 --duration 0.5 --repeats 1
done
if [ -z "${QUICK:-}" ]; then
    section pd14_full 150 $PY benchmarks/pd14.py --backend cuda --scale 1 --duration 1 --warmup 0.2
    section pd14_grid 150 env NEUROSIM_CUDA_GRID=528,256 $PY benchmarks/pd14.py --backend cuda --scale 1 --duration 1 \
        --warmup 0.2  # four blocks per multiprocessor (the default is at most two)
fi
if $PY -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then  # the fused training op
    section train_op 120 $PY benchmarks/train_lif.py --device cuda --configs 500:1024 --impls neurosim,spikingjelly \
        --reps 3 --no-memory
fi
section cuba_sizes 120 $PY benchmarks/cuba.py --no-brian2 --backend cuda --sizes 4000,16000,40000,400000,1000000 \
    --duration 0.5 --repeats 1
section pd14_small 60 $PY benchmarks/pd14.py --backend cuda --scale 0.1 --duration 1 --warmup 0.2
if [ -n "${EXTRA:-}" ]; then  # launch shapes at 4,000 neurons, the grid barrier, and a profile of PD14
    for grid in 16,256 66,256 132,256 264,256 1,1024; do
        section "cuba_grid_${grid/,/x}" 40 env NEUROSIM_CUDA_GRID=$grid $PY benchmarks/cuba.py --no-brian2 --backend cuda \
            --sizes 4000 --duration 0.5 --repeats 1
    done
    section grid_sync 40 $PY benchmarks/grid_sync.py --syncs 5000
    if command -v ncu >/dev/null; then  # where a step of the persistent kernel spends its time
        section profile 240 ncu --clock-control none --target-processes all --launch-skip 1 --launch-count 1 \
            -k regex:run_steps --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats \
            $PY benchmarks/pd14.py --backend cuda --scale 0.1 --duration 0.02 --warmup 0
    fi
fi
tar czf "$OUT/logs.tgz" -C "$LOGS" . && echo "logs in $OUT/logs.tgz"
