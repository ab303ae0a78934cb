#!/usr/bin/env bash
# Measure a GPU machine in one go: install the project into the Python that already has
# torch (no network needed), run `make bench`, then train the whole experiment list from an
# empty build folder. Everything it learns goes to OUT_DIR:
#   device.txt    the GPU, driver, torch and Python versions
#   bench.txt     make bench's table (engine vs. reference loop)
#   runs.txt      the summary line of every run
#   timings.csv   per run: epochs, batch size, training seconds, device
#   summary.txt   runs finished, total training and wall seconds; a NOTE if the budget cut it short
#
#   benchmarks/gpu.sh OUT_DIR            (PA3_DATA must point at CIFAR-10 unless it can download)
#   benchmarks/gpu.sh OUT_DIR --dry-run  a rehearsal anywhere: no install, bench only checked to
#                                        start, the list as --quick previews
# Time: BUDGET_S (default 570) bounds the whole script; the list gets what the bench leaves
# and stops cleanly when that runs out (finished runs are counted, the rest is reported).
# BENCH_S (default a third of what is left): the most the bench may take.
# JOBS (default 1): trajectories trained at once on the one GPU (`run --all --jobs JOBS`).
# LIST_BUILD: the list's build folder (default a temporary one); put a palette/ in it first
#   to train with that palette, and it is kept afterwards, so its results can be fetched.
#   repeat.txt then says whether the cheapest run, trained again, gives identical numbers.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: benchmarks/gpu.sh OUT_DIR [--dry-run]" >&2
    exit 2
fi
OUT=$1
DRY=0
[[ "${2:-}" == "--dry-run" ]] && DRY=1
PYTHON=${PYTHON:-python3}
BUDGET_S=${BUDGET_S:-570}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
START=$(date +%s)
: > "$OUT/summary.txt"
log() { echo "[gpu.sh +$(( $(date +%s) - START ))s] $*" | tee -a "$OUT/summary.txt"; }
left() { echo $(( BUDGET_S - ($(date +%s) - START) )); }
cd "$ROOT"

log "installing: $PYTHON -m pip install --no-deps --no-build-isolation -e ."
if [[ $DRY == 0 ]]; then
    "$PYTHON" -m pip install -q --no-deps --no-build-isolation -e . > "$OUT/pip.txt" 2>&1
fi

"$PYTHON" - > "$OUT/device.txt" 2>&1 <<'PY'
import platform, torch
print("python", platform.python_version(), "torch", torch.__version__)
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("device cuda", torch.cuda.get_device_name(0), f"{p.total_memory / 2**30:.0f} GiB",
          "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())
else:
    print("device cpu (no GPU visible to torch)")
PY
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader >> "$OUT/device.txt" 2>&1 || true
log "$(head -2 "$OUT/device.txt" | tr '\n' ' ')"

# The bench and the list each get an empty build folder of their own.
JOBS=${JOBS:-1}
BENCH_BUILD=$(mktemp -d)
REPEAT_BUILD=$(mktemp -d)
if [[ -n "${LIST_BUILD:-}" ]]; then
    mkdir -p "$LIST_BUILD"
    LIST_BUILD=$(cd "$LIST_BUILD" && pwd)
    trap 'rm -rf "$BENCH_BUILD" "$REPEAT_BUILD"' EXIT
else
    LIST_BUILD=$(mktemp -d)
    trap 'rm -rf "$BENCH_BUILD" "$LIST_BUILD" "$REPEAT_BUILD"' EXIT
fi
# The list's palette, when one was given, serves the bench too (its fingerprints then match).
[[ -d "$LIST_BUILD/palette" ]] && cp -r "$LIST_BUILD/palette" "$BENCH_BUILD/palette"

if [[ $DRY == 0 ]]; then
    BENCH_S=${BENCH_S:-$(( $(left) / 3 ))}
    log "make bench (at most ${BENCH_S}s)"
    if ! PA3_BUILD=$BENCH_BUILD timeout "$BENCH_S" make bench VENV= PYTHON="$PYTHON" \
            PIP_FLAGS="--no-deps --no-build-isolation" > "$OUT/bench.txt" 2>&1; then
        log "make bench did not finish in ${BENCH_S}s (or failed); its output so far is in bench.txt"
    fi
else
    log "dry run: make bench only checked to start"
    PA3_BUILD=$BENCH_BUILD "$PYTHON" benchmarks/bench.py --help > "$OUT/bench.txt" 2>&1
fi

QUICK=()
[[ $DRY == 1 ]] && QUICK=(--quick)
EXPECTED=$("$PYTHON" -c "from pathlib import Path; from pa3report import config; print(len(config.load_experiments(Path('experiments'))))")
# 50 s stay for the timings and the repeat of one run
LIST_S=$(( $(left) - 50 ))
if (( LIST_S < 30 )); then
    log "no time left for the experiment list"
    LIST_S=1
fi
log "the whole list ($EXPECTED runs${QUICK:+, quick}, --jobs $JOBS) from an empty build folder, at most ${LIST_S}s"
T0=$(date +%s%N)
set +e
# SIGINT first: the run stops between epochs and says so; killed 20 s later if it does not.
PA3_BUILD=$LIST_BUILD timeout --signal=INT --kill-after=20 "$LIST_S" "$PYTHON" -m pa3report run --all \
    --jobs "$JOBS" ${QUICK[@]+"${QUICK[@]}"} > "$OUT/runs.txt" 2>&1
RC=$?
set -e
WALL_MS=$(( ($(date +%s%N) - T0) / 1000000 ))
WALL=$(printf "%d.%03d" $(( WALL_MS / 1000 )) $(( WALL_MS % 1000 )))
if [[ $RC == 124 ]]; then
    log "the list did not fit in ${LIST_S}s: stopped; the timings cover the runs that finished"
elif [[ $RC != 0 ]]; then
    log "the list failed (exit $RC); see runs.txt"
fi
"$PYTHON" benchmarks/gpu_timings.py "$LIST_BUILD" "$OUT" "$WALL" "$EXPECTED"

# Is a run on this device repeatable? Train the list's cheapest finished run again in a fresh
# build folder (same palette) and compare its per-epoch numbers with the list's.
if (( $(left) > 20 )); then
    [[ -d "$LIST_BUILD/palette" ]] && cp -r "$LIST_BUILD/palette" "$REPEAT_BUILD/palette"
    set +e
    PA3_BUILD=$REPEAT_BUILD LIST_BUILD=$LIST_BUILD timeout "$(( $(left) - 10 ))" "$PYTHON" \
        benchmarks/gpu_timings.py --repeat "$LIST_BUILD" "$REPEAT_BUILD" ${QUICK[@]+"${QUICK[@]}"} \
        > "$OUT/repeat.txt" 2>&1
    set -e
    log "repeat: $(tail -1 "$OUT/repeat.txt")"
else
    log "no time left to repeat a run"
fi
log "done in $(( $(date +%s) - START ))s; results in $OUT"
