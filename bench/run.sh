#!/usr/bin/env bash
# Runs every benchmark of synclings against its peers in one go and writes
# BENCHMARKS.md at the repository root. Takes ~35 minutes on 2 cores (the lab included;
# the queue benches run ~1 s per sample and peer: ~9 min in criterion, ~4 in queue-rounds).
#   bash bench/run.sh            # everything
#   QUICK=1 bash bench/run.sh    # a short smoke run (numbers not meaningful)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/bench
args=()
if [ "${QUICK:-}" = 1 ]; then
  args=(--warm-up-time 0.1 --measurement-time 0.2)
  export REPS=1 ROUNDS=1 ROUND_MESSAGES=40000 SECS=0.05
fi
rm -rf target/criterion
cargo bench -p synclings-bench -- "${args[@]}" 2>&1 | tee target/bench/bench.log
cargo build --release -q -p synclings-bench --bin queue-rounds
target/release/queue-rounds "${ROUNDS:-5}" "${ROUND_MESSAGES:-10000000}" | tee target/bench/queue-rounds.jsonl
python3 bench/python/queue_bench.py "${PY_MESSAGES:-100000}" | tee target/bench/python-queue.jsonl
# IPC between processes: Python's multiprocessing.Pipe/Queue baseline of
# benches/ipc.rs (which `cargo bench` above ran).
python3 bench/python/ipc_bench.py "${PY_IPC_SCALE:-$([ "${QUICK:-}" = 1 ] && echo 0.05 || echo 1)}" \
  | tee target/bench/python-ipc.jsonl
# asyncio: 100 000 sleeping tasks, synclings and tokio (memory per task, lateness).
cargo build --release -q -p synclings-bench --bin asyncio-sleepers
: > target/bench/asyncio-sleepers.jsonl
for _ in $(seq "${SLEEPER_REPS:-$([ "${QUICK:-}" = 1 ] && echo 1 || echo 5)}"); do
  target/release/asyncio-sleepers 100000 1000 | tee -a target/bench/asyncio-sleepers.jsonl
done

# Process pools and the GIL (bench/src/bin/pool-lab.rs, python/pool_lab.py;
# PYTHON_FT=/path/to/python3.13t, or bench/python/build_free_threaded.sh, adds a free-threaded row), and Python's
# side of benches/manager.rs (shared memory vs Manager proxies).
SCALE_SMALL="$([ "${QUICK:-}" = 1 ] && echo 0.1 || echo 1)"
cargo build --release -q -p synclings-bench --bin pool-lab
# A free-threaded CPython built by bench/python/build_free_threaded.sh, if there is one.
if [ -z "${PYTHON_FT:-}" ] && [ -x target/python-ft/bin/python3.13t ]; then
  export PYTHON_FT="$PWD/target/python-ft/bin/python3.13t"
fi
target/release/pool-lab "${POOL_SCALE:-$SCALE_SMALL}" | tee target/bench/pool-lab.jsonl
python3 bench/python/pool_lab.py "${POOL_SCALE:-$SCALE_SMALL}" | tee target/bench/python-pool.jsonl
python3 bench/python/pool_rounds.py "$([ "${QUICK:-}" = 1 ] && echo 1 || echo 5)" "${POOL_SCALE:-$SCALE_SMALL}" \
  | tee target/bench/pool-rounds.jsonl
python3 bench/python/manager_bench.py "${MANAGER_SCALE:-$SCALE_SMALL}" | tee target/bench/python-manager.jsonl
# Manager dict: synclings and Python alternating, paired by round, two placements.
cargo build --release -q -p synclings-bench --bin manager-rounds
python3 bench/python/manager_rounds.py "${MANAGER_ROUNDS:-$([ "${QUICK:-}" = 1 ] && echo 1 || echo 5)}" \
  "$([ "${QUICK:-}" = 1 ] && echo 0.2 || echo 1)" | tee target/bench/manager-rounds.jsonl
# --- The IO-models lab (bench/lab.sh, ~7-15 more minutes; LAB=0 skips it) ---
# Its wait bench ran with the others above; report.py renders its section
# from target/bench/lab.json.
if [ "${LAB:-1}" = 1 ]; then
  LAB_QUICK="${QUICK:-}" LAB_SKIP_WAIT=1 LAB_NO_REPORT=1 bash bench/lab.sh
fi
# --- end of the lab ---
python3 bench/report.py > BENCHMARKS.md
cat BENCHMARKS.md
