#!/usr/bin/env bash
# The IO-models lab: every echo server (the 8 synclings models, asyncio
# included, tokio current-thread, the system-call floor, the seed's Python
# selectors server, Python asyncio and uvloop) at 1, 10, 100, 1 000 and
# 10 000 connections, the selector server on each selector backend (epoll,
# poll, select, polling) at 1, 100 and 1 000, 10 000 idle connections, and
# the cost of one wait of each selector with N idle descriptors; writes the
# "IO models lab" section of BENCHMARKS.md (the other sections are left as
# they are).
#   bash bench/lab.sh              # ~7 minutes on 2 cores (measured; longer under load)
#   LAB_QUICK=1 bash bench/lab.sh  # a smoke run (~3 minutes; numbers not meaningful)
# Options (environment): LAB_SERVERS=selector,floor LAB_CONNECTIONS=1,100
# restrict the run, LAB_BACKENDS=epoll,poll (or none) the backend table;
# LAB_BASELINE=REV also runs commit REV's selector server in the backend
# table (built here, into target/lab-baseline: the "EpollSelector costs what
# the selector cost" check); LAB_REPS, LAB_DURATION, LAB_WARMUP override the defaults;
# LAB_SKIP_WAIT=1 reuses the criterion results of the wait bench (run.sh ran
# it); LAB_NO_REPORT=1 leaves BENCHMARKS.md alone (run.sh renders it).
# See bench/lab.py for the method.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/bench
cargo build --release -p synclings -p synclings-bench --bins
if [ -n "${LAB_BASELINE:-}" ]; then
  # That commit's tree, built on its own (its own target directory).
  base=target/lab-baseline
  rm -rf "$base/src"
  mkdir -p "$base/src"
  git archive "$LAB_BASELINE" | tar -x -C "$base/src"
  CARGO_TARGET_DIR="$base/target" cargo build --release \
    --manifest-path "$base/src/Cargo.toml" -p synclings --bin echo-server
  export LAB_BASELINE
fi

# The asyncio peers: Python's asyncio runs as is; uvloop comes from PyPI.
python3 -c 'import uvloop' 2>/dev/null || python3 -m pip install --quiet uvloop \
  || echo "lab: uvloop could not be installed: its cells will say so" >&2
if [ "${LAB_SKIP_WAIT:-}" != 1 ]; then
  # ~30 s: its groups set their own (short) times.
  cargo bench -p synclings-bench --bench wait 2>&1 | tee target/bench/wait.log
fi
# The system-call counts (lab.py's syscalls table) need strace: installed
# here if missing (the lab only; CI never runs this script).
if ! command -v strace >/dev/null 2>&1; then
  (apt-get install -y strace >/dev/null 2>&1 || (apt-get update >/dev/null 2>&1 \
     && apt-get install -y strace >/dev/null 2>&1)) \
    || echo "lab: strace could not be installed: the system-call table will say so" >&2
fi
python3 bench/lab.py
if [ "${LAB_NO_REPORT:-}" != 1 ]; then
  python3 bench/report.py --lab-splice BENCHMARKS.md
  python3 bench/report.py --lab-only
fi
