"""Pool.map of 100 000 tiny tasks (chunksize 100, 2 workers), synclings
against Python, paired by round (issue 14's target: ipc::Pool.map ≥ 10×
multiprocessing.Pool.map).

    python3 bench/python/pool_rounds.py [ROUNDS] [SCALE]

Each round runs `MAP_ONLY=1 REPS=3 target/release/pool-lab SCALE`
(a fresh ipc::Pool(2), one warm-up map, three timed maps) and three timed
maps of this process's multiprocessing.Pool(2) (spawn, started once,
warmed up), alternating which goes first; a round's rate is the median of
its three maps. Pool start-up is never timed. Prints one JSON line:
{"group": "pool/map_rounds", "synclings": [items/s per round], "python": [...]}.
"""
import json
import multiprocessing as mp
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "release" / "pool-lab"
MP = mp.get_context("spawn")
PER_ROUND = 3


def square(x):
    return x * x


def rust_round(scale):
    env = dict(os.environ, MAP_ONLY="1", REPS=str(PER_ROUND))
    out = subprocess.run([str(BIN), str(scale)], capture_output=True, text=True, check=True,
                         env=env, timeout=120)
    row = next(json.loads(l) for l in out.stdout.splitlines() if '"pool/map_tiny"' in l)
    return statistics.median(row["rates"])


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    items = max(int(100_000 * scale), 1000)
    want = sum(x * x for x in range(items))
    ours, theirs = [], []
    with MP.Pool(2) as pool:
        assert sum(pool.map(square, range(items), 100)) == want  # warm-up

        def python_round():
            rates = []
            for _ in range(PER_ROUND):
                t0 = time.perf_counter()
                got = pool.map(square, range(items), 100)
                rates.append(items / (time.perf_counter() - t0))
                assert sum(got) == want
            return statistics.median(rates)

        for r in range(rounds):
            if r % 2:
                theirs.append(python_round())
                ours.append(rust_round(scale))
            else:
                ours.append(rust_round(scale))
                theirs.append(python_round())
    print(json.dumps({"group": "pool/map_rounds", "items": items, "synclings": ours,
                      "python": theirs}), flush=True)


if __name__ == "__main__":
    main()
