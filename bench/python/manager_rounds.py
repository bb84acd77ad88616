"""Manager dict get/set, synclings against Python, paired by round (issue
14's target: ipc::Manager's dict ≥ 5× Python's Manager().dict()).

    python3 bench/python/manager_rounds.py [ROUNDS] [SECS]

Each round runs, for each placement, one window of SECS seconds of each
peer, the order alternating by round: target/release/manager-rounds
(ipc::Manager) and Python's Manager().dict() in this process. Placements:
`same` (the client and the manager's server on CPU 0, as
manager_bench.py runs it) and `split` (the server on CPU 1, the client
on CPU 0). Manager start-up is not timed. Prints one JSON line per
placement: {"group": "manager/rounds", "placement": ..., "synclings":
[ops/s per round], "python": [...]}.
"""
import json
import multiprocessing as mp
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "release" / "manager-rounds"
MP = mp.get_context("spawn")
PLACEMENTS = ["same", "split"]


def pin(cpu):
    try:
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})
    except (AttributeError, OSError):
        pass


def python_window(secs, placement):
    pin(1 if placement == "split" else 0)
    with MP.Manager() as manager:
        pin(0)
        d = manager.dict()
        n = 0
        warm = time.perf_counter()
        while time.perf_counter() - warm < 0.1:
            n += 1
            d[n % 64] = n
            assert d[n % 64] == n
        iterations = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < secs:
            for _ in range(64):
                n += 1
                d[n % 64] = n
                assert d[n % 64] == n
            iterations += 64
        return 2 * iterations / (time.perf_counter() - t0)


def rust_window(secs, placement):
    out = subprocess.run([str(BIN), str(secs), placement], capture_output=True, text=True,
                         check=True, timeout=60 + 4 * secs)
    return json.loads(out.stdout.strip().splitlines()[-1])["ops_per_s"]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    got = {p: {"synclings": [], "python": []} for p in PLACEMENTS}
    for r in range(rounds):
        for placement in PLACEMENTS:
            peers = [("synclings", rust_window), ("python", python_window)]
            if r % 2:
                peers.reverse()
            for name, window in peers:
                got[placement][name].append(window(secs, placement))
    for placement in PLACEMENTS:
        print(json.dumps({"group": "manager/rounds", "placement": placement, "secs": secs,
                          **got[placement]}), flush=True)


if __name__ == "__main__":
    main()
