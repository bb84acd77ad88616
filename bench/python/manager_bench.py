"""Python's side of benches/manager.rs: one set and one get (two operations)
per iteration on multiprocessing.Value (shared memory, with its lock),
multiprocessing.Array, Manager().dict() and Manager().Value(); operations
per second, REPS runs (default 5) of about half a second each.

    python3 bench/python/manager_bench.py [SCALE]

One JSON line per peer: {"group": "shared/get_set", "peer": "python_value",
"rates": [ops/s, ...]}.
"""
import json
import multiprocessing as mp
import os
import sys
import time

REPS = int(os.environ.get("REPS", "5"))
MP = mp.get_context("spawn")


def pin(cpu):
    try:
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})
    except (AttributeError, OSError):
        pass


def rate(set_get, iters):
    set_get(0)  # warm-up
    t0 = time.perf_counter()
    for n in range(1, iters + 1):
        set_get(n)
    return 2 * iters / (time.perf_counter() - t0)


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    pin(0)
    value = MP.Value("q", 0)
    array = MP.Array("q", 1024)

    def value_set_get(n):
        with value.get_lock():
            value.value = n
        with value.get_lock():
            assert value.value == n

    def array_set_get(n):
        i = n % 1024
        with array.get_lock():
            array[i] = n
        with array.get_lock():
            assert array[i] == n

    with MP.Manager() as manager:
        d = manager.dict()
        v = manager.Value("q", 0)

        def dict_set_get(n):
            d[n % 64] = n
            assert d[n % 64] == n

        def mvalue_set_get(n):
            v.value = n
            assert v.value == n

        for peer, f, iters in [("python_value", value_set_get, 200_000),
                               ("python_array", array_set_get, 200_000),
                               ("python_manager_dict", dict_set_get, 5_000),
                               ("python_manager_value", mvalue_set_get, 5_000)]:
            n = max(int(iters * scale), 100)
            rates = [rate(f, n) for _ in range(REPS)]
            print(json.dumps({"group": "shared/get_set", "peer": peer, "rates": rates}), flush=True)


if __name__ == "__main__":
    main()
