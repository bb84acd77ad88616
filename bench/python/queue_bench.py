"""Python's queue.Queue running the same workloads as benches/queue.rs.

Producers are pinned to CPU 0 and consumers to CPU 1 (os.sched_setaffinity
with pid 0 pins the calling thread on Linux). Each configuration runs REPS
times; one JSON line per configuration: {"group", "rates": [msg/s, ...]}.
"""
import json
import os
import queue
import sys
import threading
import time

REPS = int(os.environ.get("REPS", "5"))


def pin(cpu):
    # The machine's CPUs, not this thread's mask: a child inherits its
    # pinned parent's mask, and must still reach the other CPU.
    try:
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})
    except (AttributeError, OSError):
        pass


def run(cap, producers, consumers, messages):
    per_producer = messages // producers
    total = per_producer * producers
    per_consumer = total // consumers
    q = queue.Queue(maxsize=cap)
    start = threading.Barrier(producers + consumers + 1)
    sums = []

    def produce(p):
        pin(0)
        start.wait()
        base = p * per_producer
        for i in range(per_producer):
            q.put(base + i)

    def consume():
        pin(1)
        start.wait()
        s = 0
        for _ in range(per_consumer):
            s += q.get()
        sums.append(s)

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    threads += [threading.Thread(target=consume) for _ in range(consumers)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    assert sum(sums) == total * (total - 1) // 2, "lost or duplicated messages"
    return total / elapsed


def main():
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for workload, p, c in [("spsc", 1, 1), ("mpsc4", 4, 1), ("mpmc4", 4, 4)]:
        for cap in [1, 64, 1024]:
            # capacity 1 hands over one message per thread switch: ~15k msg/s
            n = messages if cap > 1 else max(messages // 5, 1000)
            rates = [run(cap, p, c, n) for _ in range(REPS)]
            print(json.dumps({"group": f"queue/{workload}/cap{cap}", "rates": rates}), flush=True)


if __name__ == "__main__":
    main()
