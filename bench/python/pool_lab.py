"""The GIL lab, Python's side (bench/src/bin/pool-lab.rs is Rust's): the
same CPU-bound work (counting the primes below N by trial division, in 16
tasks) and the same IO-bound work (16 tasks that sleep 50 ms) on 1 and 2
workers (and 8 for the IO), with threads (concurrent.futures'
ThreadPoolExecutor: one GIL) and processes (multiprocessing.Pool: one
interpreter, one GIL each); and Pool.map of 100 000 tiny tasks, chunksize
100, the peer of ipc::Pool.map.

    python3 bench/python/pool_lab.py [SCALE]     # JSON lines on stdout

Set PYTHON_FT to a free-threaded interpreter (python3.13t) to add its
threads as the `python_ft_threads` peer: bench/python/build_free_threaded.sh
builds one from Debian's source package (no registry this machine reaches
ships one built), and bench/run.sh then sets PYTHON_FT.

Pool start-up is not timed. Each configuration runs REPS times (default 5).
"""
import concurrent.futures
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time

REPS = int(os.environ.get("REPS", "5"))
TASKS = 16
NAP_MS = 50
# "spawn", as synclings starts its workers (and as macOS and Windows do).
MP = mp.get_context("spawn")


def square(x):
    return x * x


def count_primes(bounds):
    lo, hi = bounds
    count = 0
    for n in range(max(lo, 2), hi):
        d = 2
        prime = True
        while d * d <= n:
            if n % d == 0:
                prime = False
                break
            d += 1
        count += prime
    return count


def nap(ms):
    time.sleep(ms / 1000)
    return ms


def ranges(n):
    return [(k * n // TASKS, (k + 1) * n // TASKS) for k in range(TASKS)]


def line(group, peer, key, values, workers=None):
    row = {"group": group, "peer": peer}
    if workers is not None:
        row["workers"] = workers
    row[key] = values
    print(json.dumps(row), flush=True)


def timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def run_peer(peer, make_executor, group, fn, tasks, want, workers_list, reps):
    for workers in workers_list:
        with make_executor(workers) as ex:
            # Every worker up and running before the clock starts (a spawn
            # Pool returns before its children have booted).
            list(ex.map(nap, [20] * (2 * workers)))
            runs = []
            for _ in range(reps):
                def once():
                    got = list(ex.map(fn, tasks, chunksize=1) if peer == "python_processes" else ex.map(fn, tasks))
                    assert sum(got) == want, (sum(got), want)
                runs.append(timed(once))
        line(group, peer, "seconds", runs, workers)


def threads_only(scale):
    """The thread peers alone (run under PYTHON_FT too)."""
    n = max(int(400_000 * scale), 10_000)
    tasks = ranges(n)
    want = sum(count_primes(t) for t in tasks)
    peer = os.environ.get("PEER", "python_threads")
    run_peer(peer, lambda w: concurrent.futures.ThreadPoolExecutor(w), "gil/cpu", count_primes,
             tasks, want, [1, 2], REPS)
    naps = [NAP_MS] * TASKS
    run_peer(peer, lambda w: concurrent.futures.ThreadPoolExecutor(w), "gil/io", nap,
             naps, NAP_MS * TASKS, [1, 2, 8], min(REPS, 3))


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    if os.environ.get("THREADS_ONLY"):
        return threads_only(scale)

    items = max(int(100_000 * scale), 1000)
    with MP.Pool(2) as pool:
        pool.map(square, range(items), 100)  # warm-up
        rates = []
        for _ in range(REPS):
            s = timed(lambda: pool.map(square, range(items), 100))
            rates.append(items / s)
    line("pool/map_tiny", "python_pool", "rates", rates)

    threads_only(scale)
    n = max(int(400_000 * scale), 10_000)
    print(json.dumps({"group": "gil/cpu/n", "peer": "python", "n": n, "tasks": TASKS}), flush=True)
    tasks = ranges(n)
    want = sum(count_primes(t) for t in tasks)
    run_peer("python_processes", lambda w: MP.Pool(w), "gil/cpu", count_primes, tasks, want,
             [1, 2], REPS)
    run_peer("python_processes", lambda w: MP.Pool(w), "gil/io", nap, [NAP_MS] * TASKS,
             NAP_MS * TASKS, [1, 2, 8], min(REPS, 3))

    ft = os.environ.get("PYTHON_FT")
    if ft:
        env = dict(os.environ, THREADS_ONLY="1", PEER="python_ft_threads", PYTHON_GIL="0")
        subprocess.run([ft, __file__, str(scale)], env=env, check=True)
    else:
        print(json.dumps({"group": "gil/free_threaded", "available": False,
                          "why": "no free-threaded CPython (3.13t) was given: no registry this "
                                 "machine reaches ships one built (Debian packages python3.13 with "
                                 "the GIL only, PyPI ships no interpreter); "
                                 "bench/python/build_free_threaded.sh builds one from Debian's "
                                 "source package, or set PYTHON_FT=/path/to/python3.13t"}))


if __name__ == "__main__":
    main()
