"""Python's multiprocessing.Pipe and multiprocessing.Queue running the same
workloads as benches/ipc.rs: 64 B and 64 KiB messages, one way and round
trip, between this process (pinned to CPU 0) and one child process (pinned to
CPU 1, os.sched_setaffinity).

One way: the parent sends N messages, the child receives them and
acknowledges on a separate pipe; the time runs from the first send to the
acknowledgement. Round trip: the child sends each message back (on the same
duplex Pipe, or on a second Queue); a round trip counts as one message.

Each configuration runs REPS times (default 5); one JSON line per
configuration: {"group": "ipc/64B/one_way", "peer": "python_pipe",
"rates": [messages/s, ...]}.
"""
import json
import multiprocessing as mp
import os
import sys
import time

REPS = int(os.environ.get("REPS", "5"))
# "spawn", like synclings: the child gets only what is passed to it (with
# "fork" it would also inherit the parent's end of the control pipe, and
# never see it close).
MP = mp.get_context("spawn")
SIZES = [(64, "64B"), (64 << 10, "64KiB")]


def pin(cpu):
    # The machine's CPUs, not this thread's mask: a child inherits its
    # pinned parent's mask, and must still reach the other CPU.
    try:
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})
    except (AttributeError, OSError):
        pass


def serve(ctl, recv, send):
    """Runs the parent's commands from `ctl` until it closes: receive `count`
    messages of `size` bytes with `recv`, echo each with `send` for a round
    trip, then acknowledge."""
    pin(1)
    while True:
        try:
            mode, size, count = ctl.recv()
        except EOFError:
            return
        for _ in range(count):
            m = recv()
            assert len(m) == size
            if mode == "round_trip":
                send(m)
        ctl.send(count)


def pipe_child(data, ctl):
    serve(ctl, data.recv_bytes, data.send_bytes)


def queue_child(requests, replies, ctl):
    serve(ctl, requests.get, replies.put)


def sample(ctl, send, recv, mode, size, count):
    message = b"\xa5" * size
    ctl.send((mode, size, count))
    t0 = time.perf_counter()
    for _ in range(count):
        send(message)
        if mode == "round_trip":
            assert len(recv()) == size
    assert ctl.recv() == count
    return count / (time.perf_counter() - t0)


def counts(scale):
    """Messages per repetition, per (size, mode): about half a second each."""
    return {
        ("64B", "one_way"): int(200_000 * scale),
        ("64B", "round_trip"): int(20_000 * scale),
        ("64KiB", "one_way"): int(10_000 * scale),
        ("64KiB", "round_trip"): int(4_000 * scale),
    }


def run_peer(peer, start_child, scale):
    ctl, child_ctl = MP.Pipe()
    child, send, recv = start_child(child_ctl)
    child_ctl.close()
    n = counts(scale)
    try:
        for size, size_name in SIZES:
            for mode in ["one_way", "round_trip"]:
                count = max(n[(size_name, mode)], 100)
                sample(ctl, send, recv, mode, size, max(count // 10, 10))  # warm-up
                rates = [sample(ctl, send, recv, mode, size, count) for _ in range(REPS)]
                print(json.dumps({"group": f"ipc/{size_name}/{mode}", "peer": peer,
                                  "rates": rates}), flush=True)
    finally:
        ctl.close()
        child.join()


def start_pipe(child_ctl):
    ours, theirs = MP.Pipe(duplex=True)
    child = MP.Process(target=pipe_child, args=(theirs, child_ctl))
    child.start()
    theirs.close()
    return child, ours.send_bytes, ours.recv_bytes


def start_queue(child_ctl):
    requests, replies = MP.Queue(), MP.Queue()
    child = MP.Process(target=queue_child, args=(requests, replies, child_ctl))
    child.start()
    return child, requests.put, replies.get


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    pin(0)
    run_peer("python_pipe", start_pipe, scale)
    run_peer("python_queue", start_queue, scale)


if __name__ == "__main__":
    main()
