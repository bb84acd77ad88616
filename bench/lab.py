"""The IO-models lab's driver (run by bench/lab.sh): every echo server at
1, 10, 100, 1 000 and 10 000 connections, then the selector server on each
selector backend at 1, 100 and 1 000 connections, then 10 000 idle
connections.

For each server and connection count, for each repetition (a fresh server
each time):

1. start the server pinned to CPU 1 (`taskset -c 1`), read its address from
   the `listening on ADDR` line it prints first;
2. run `echo-bench` pinned to CPU 0 (one client thread, 64-byte requests,
   one in flight per connection) with `--server-pid`: it reads the server's
   utime + stime (/proc/PID/stat) when its warm-up ends and when its measured
   window ends, so the server CPU time per request covers exactly the
   measured requests;
3. read the server's VmHWM (peak resident memory) from /proc/PID/status,
   then stop it (SIGTERM, SIGKILL after 5 s).

The backends: the same cells for `echo-server --model selector --selector
B`, B = epoll, poll, select, polling, taking turns as the servers do, so
that repetition i of each ran within seconds of the others (report.py pairs
them by repetition). With LAB_BASELINE=REV (bench/lab.sh builds that
commit's echo-server into target/lab-baseline), REV's selector server runs
in the same rotation as "baseline": the check that EpollSelector costs what
the selector cost before the backends existed.

The idle test: a fresh server, its VmRSS with no connection; 10 000
connections opened by this process and left idle; once the server holds
them all (its /proc/PID/fd count), its VmRSS again: memory per connection =
(RSS with 10 000 - RSS with 0) / 10 000.

Writes every measurement to target/bench/lab.json; `report.py` renders it.
The soft RLIMIT_NOFILE is raised to the hard one first (children inherit
it). Environment: LAB_QUICK=1 a smoke run (1 repetition, short windows);
LAB_SERVERS=a,b and LAB_CONNECTIONS=1,10 restrict the run (LAB_SERVERS=none:
no server of the main table); LAB_SYSCALLS=a,b (or none) the servers whose
system calls (`strace -c -f`) and voluntary context switches per request are
counted, at 1 and 100 connections; LAB_BACKENDS=epoll,poll restricts the
backends (none: skip them); LAB_REPS, LAB_DURATION, LAB_WARMUP override the
defaults; LAB_BASELINE is set by lab.sh.
"""
import datetime
import json
import os
import pathlib
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release"
OUT = ROOT / "target" / "bench"

QUICK = os.environ.get("LAB_QUICK") == "1"
CONNECTIONS = [1, 10, 100, 1000, 10000]
IDLE_CONNECTIONS = 10000
#: Threads of the thread-pool model: a fixed pool serves that many
#: connections at once, the others wait unanswered.
POOL_WORKERS = 128
#: select(2)'s limit.
FD_SETSIZE = 1024
SERVER_CPU = "1"
CLIENT_CPU = "0"


def echo_server(model, *extra, binary=BIN / "echo-server"):
    return [str(binary), "--model", model, "--addr", "127.0.0.1:0",
            "--max-connections", "20000", *extra]


#: name -> (command, what it is)
SERVERS = {
    "blocking": (echo_server("blocking"), "synclings: a thread per connection"),
    "threadpool": (echo_server("threadpool", "--workers", str(POOL_WORKERS)),
                   f"synclings: a pool of {POOL_WORKERS} threads"),
    "busypoll": (echo_server("busypoll"), "synclings: non-blocking sockets polled in a loop"),
    "selector": (echo_server("selector"),
                 "synclings: one thread, `DefaultSelector` (EpollSelector)"),
    "selector-per-core": (echo_server("selector-per-core", "--workers", "1"),
                          "synclings: a selector per core (1 core given: 1 worker)"),
    "select": (echo_server("select"), "synclings: raw select(2)"),
    "poll": (echo_server("poll"), "synclings: raw poll(2)"),
    "asyncio": (echo_server("asyncio"),
                "synclings: `asyncio` event loop, `start_server`, a task per connection (seed program 11)"),
    "sigio": (echo_server("sigio"),
              "synclings: signal-driven IO (O_ASYNC, F_SETSIG, a signalfd)"),
    "uring": (echo_server("uring"),
              "synclings: io_uring (multishot accept and recv, a provided buffer ring, batched sends)"),
    "prefork": (echo_server("prefork", "--workers", "1"),
                "synclings: pre-forked worker processes (1 core given: 1 worker)"),
    "tokio": ([str(BIN / "tokio-echo"), "0"], "tokio current-thread, a task per connection"),
    "floor": ([str(BIN / "floor-echo"), "0"], "bare epoll_wait + read + write (the floor)"),
    "python": ([sys.executable, str(ROOT / "bench" / "python" / "selectors_echo.py"), "0", "4096"],
               "the seed's Python `selectors` server"),
    "python-asyncio": ([sys.executable, str(ROOT / "bench" / "python" / "asyncio_echo.py"), "0", "4096"],
                       "Python `asyncio.start_server` and streams (seed program 11)"),
    "uvloop": ([sys.executable, str(ROOT / "bench" / "python" / "asyncio_echo.py"), "0", "4096",
                "--uvloop"], "the same Python asyncio server on uvloop"),
}


#: The selector server on each backend (bench/lab.sh's backend table).
BACKENDS = {
    name: (echo_server("selector", "--selector", name), f"the selector server on {what}")
    for name, what in [("epoll", "EpollSelector"), ("poll", "PollSelector"),
                       ("select", "SelectSelector"), ("polling", "PollingSelector")]
}
BACKEND_CONNECTIONS = [1, 100, 1000]
#: The commit whose selector server is the baseline (built by lab.sh).
BASELINE = os.environ.get("LAB_BASELINE")
BASELINE_BIN = ROOT / "target" / "lab-baseline" / "target" / "release" / "echo-server"
if BASELINE:
    BACKENDS["baseline"] = (echo_server("selector", binary=BASELINE_BIN),
                            f"the selector server of commit {BASELINE}")


def not_applicable(server, connections):
    """Why a cell cannot be measured, or None."""
    # 1 000 connections fit (descriptors ~10..1010); 10 000 cannot.
    if server == "select" and connections + 16 > FD_SETSIZE:
        return f"select(2) watches descriptors below FD_SETSIZE = {FD_SETSIZE} only"
    if server == "threadpool" and connections > POOL_WORKERS:
        return f"a pool of {POOL_WORKERS} threads: the other connections wait unanswered"
    return None


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_status(pid):
    """{'VmHWM': kB, 'VmRSS': kB} of a live process."""
    out = {}
    try:
        for line in open(f"/proc/{pid}/status"):
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def tree(pid):
    """`pid` and its descendants (a prefork server's workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                todo.extend(int(c) for c in open(f"/proc/{p}/task/{tid}/children").read().split())
        except OSError:
            pass
    return out


def fd_count(pid):
    """Open descriptors of `pid` and its descendants."""
    total = 0
    for p in tree(pid):
        try:
            total += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            if p == pid:
                return -1
    return total


def tree_rss(pid):
    """VmRSS (kB) of `pid` and its descendants."""
    return sum(proc_status(p).get("VmRSS", 0) for p in tree(pid))


class Server:
    """A server process pinned to SERVER_CPU, stdout to a file."""

    def __init__(self, name, cmd=None):
        self.name = name
        if cmd is None:
            cmd, _ = SERVERS[name]
        OUT.mkdir(parents=True, exist_ok=True)
        self.log = open(OUT / f"lab-server-{name}.log", "w+")
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU, *cmd], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.addr = self._wait_listening()

    def _wait_listening(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            self.log.seek(0)
            for line in self.log.read().splitlines():
                if line.startswith("listening on "):
                    return line.split()[-1]
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.name} did not start")

    @property
    def pid(self):
        # taskset execs the server: same pid.
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run_cell(name, connections, duration, warmup, cmd=None):
    """One repetition: a fresh server, one echo-bench run."""
    server = Server(name, cmd)
    try:
        cmd = ["taskset", "-c", CLIENT_CPU, str(BIN / "echo-bench"), "--addr", server.addr,
               "--connections", str(connections), "--threads", "1", "--size", "64",
               "--duration", str(duration), "--warmup", str(warmup), "--json",
               "--server-pid", str(server.pid)]
        budget = duration + warmup + 60 + 0.003 * connections
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=budget)
        status = proc_status(server.pid)
        lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
        if not lines:
            return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
        row = json.loads(lines[-1])
        # What went wrong, if anything: the distinct error lines.
        seen = []
        for l in done.stderr.splitlines():
            if l.startswith("echo-bench:") and l not in seen:
                seen.append(l)
        if seen:
            row["error_lines"] = seen[:3]
        row["vm_hwm_kb"] = status.get("VmHWM")
        row["vm_rss_kb"] = status.get("VmRSS")
        return row
    except subprocess.TimeoutExpired:
        return {"error": "echo-bench did not finish"}
    finally:
        server.stop()


def idle_test(name, count):
    """RSS per idle connection (kB), or an error string."""
    server = Server(name)
    socks = []
    try:
        time.sleep(0.2)
        base_fds = fd_count(server.pid)
        rss0 = tree_rss(server.pid)
        host, port = server.addr.rsplit(":", 1)
        deadline = time.monotonic() + 60
        for _ in range(count):
            s = socket.create_connection((host, int(port)), timeout=5)
            socks.append(s)
            if time.monotonic() > deadline:
                return {"error": "connecting took too long"}
        # Wait until the server has accepted (and registered) them all.
        while fd_count(server.pid) < base_fds + count:
            if time.monotonic() > deadline or server.proc.poll() is not None:
                return {"error": f"the server holds {fd_count(server.pid) - base_fds} of {count}"}
            time.sleep(0.05)
        time.sleep(0.3)  # let a thread-per-connection server's threads start
        rss1 = tree_rss(server.pid)
        return {"rss0_kb": rss0, "rss_kb": rss1, "connections": count,
                "per_conn_bytes": (rss1 - rss0) * 1024 / count}
    finally:
        for s in socks:
            s.close()
        server.stop()


#: The servers whose system calls and context switches per request are
#: counted (the article's claim: multiplexing costs two system calls where
#: blocking IO costs one), and at which connection counts.
SYSCALL_SERVERS = ["blocking", "threadpool", "busypoll", "selector", "select", "poll", "asyncio",
                   "sigio", "uring", "prefork", "tokio", "floor"]
SYSCALL_CONNECTIONS = [1, 100]


def tasks_of(pid):
    """Every thread of `pid` and of its descendants (a prefork server's
    workers): /proc/PID/task/TID, following /proc/.../children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            out.append(f"/proc/{p}/task/{tid}")
            try:
                todo.extend(int(c) for c in open(f"/proc/{p}/task/{tid}/children").read().split())
            except OSError:
                pass
    return out


def voluntary_switches(pid):
    total = 0
    for task in tasks_of(pid):
        try:
            for line in open(f"{task}/status"):
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def bench_once(addr, connections, duration, pid=None):
    """One echo-bench run against `addr`: its JSON summary (or None)."""
    cmd = ["taskset", "-c", CLIENT_CPU, str(BIN / "echo-bench"), "--addr", addr,
           "--connections", str(connections), "--threads", "1", "--size", "64",
           "--duration", str(duration), "--warmup", "0", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=duration + 60 + 0.003 * connections)
    lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def parse_strace_summary(text):
    """`strace -c` summary -> {syscall: calls} (errors counted as calls)."""
    calls = {}
    for line in text.splitlines():
        parts = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(parts) >= 5 and parts[0].replace(".", "", 1).isdigit() and parts[-1] != "total":
            try:
                calls[parts[-1]] = calls.get(parts[-1], 0) + int(parts[3])
            except ValueError:
                pass
    return calls


def syscall_cell(name, connections, duration):
    """System calls per request (under `strace -c -f`, every thread and
    child process of the server) and voluntary context switches per request
    (a separate run without strace, which would add its own stops)."""
    cmd, _ = SERVERS[name]
    row = {}
    # 1. Context switches, no tracer.
    server = Server(name)
    try:
        time.sleep(0.2)
        before = voluntary_switches(server.pid)
        summary = bench_once(server.addr, connections, duration)
        after = voluntary_switches(server.pid)
        if summary and summary.get("requests"):
            row["vcsw_per_req"] = (after - before) / summary["requests"]
    finally:
        server.stop()
    # 2. System calls, counted by strace for the server's whole life: the
    #    bench's requests dominate (setup and shutdown are tens of calls).
    trace = OUT / f"lab-strace-{name}-{connections}.txt"
    server = Server(name, ["strace", "-c", "-f", "-o", str(trace), *cmd])
    requests = 0
    try:
        time.sleep(0.3)
        summary = bench_once(server.addr, connections, duration)
        requests = (summary or {}).get("requests", 0)
        # Stop the traced server itself (strace does not pass SIGTERM on);
        # strace writes its summary when its tracee exits.
        for task in tasks_of(server.pid)[:1]:
            for child in open(f"{task}/children").read().split():
                os.kill(int(child), signal.SIGTERM)
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            pass
    finally:
        server.stop()
    calls = parse_strace_summary(trace.read_text()) if trace.exists() else {}
    if requests and calls:
        row["requests"] = requests
        row["syscalls_per_req"] = sum(calls.values()) / requests
        row["per_req"] = {k: v / requests for k, v in sorted(calls.items(), key=lambda kv: -kv[1])
                          if v / requests >= 0.01}
    elif not calls:
        row["error"] = "no strace summary (is strace installed? bench/lab.sh installs it)"
    return row


def syscall_table(servers, counts, duration):
    cells = {}
    have_strace = subprocess.run(["sh", "-c", "command -v strace"], capture_output=True).returncode == 0
    for name in servers:
        for connections in counts:
            key = f"{name}/{connections}"
            if not have_strace:
                cells[key] = {"error": "strace is not installed"}
                continue
            try:
                cells[key] = syscall_cell(name, connections, duration)
            except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
                cells[key] = {"error": str(e)}
            c = cells[key]
            print(f"lab: syscalls {key}: "
                  + (f"{c['syscalls_per_req']:.2f} calls/req, {c.get('vcsw_per_req', 0):.2f} "
                     f"voluntary switches/req" if "syscalls_per_req" in c else f"failed: {c}"),
                  file=sys.stderr)
    return cells


def run_table(table, counts, cells, reps_for, duration_for, warmup, label=""):
    """Runs every server of `table` ({name: command}) at every count into
    `cells` ({"name/count": {"runs": [...]}}). Repetitions interleave the
    servers (rep 1 of each, then rep 2 of each...) so that a burst of load
    from other programs hits every server alike."""
    for connections in counts:
        live = []
        for name in table:
            key = f"{name}/{connections}"
            why = not_applicable(name, connections)
            if why:
                cells[key] = {"na": why}
                print(f"lab: {label}{key}: n/a ({why})", file=sys.stderr)
            else:
                cells[key] = {"runs": []}
                live.append(name)
        for rep in range(reps_for(connections)):
            # Each repetition starts one server further down the list, so
            # that no server always runs right after the same one (after
            # busy-poll, say, which keeps CPU 1 at 100%).
            shift = rep % len(live) if live else 0
            for name in live[shift:] + live[:shift]:
                try:
                    run = run_cell(name, connections, duration_for(connections), warmup,
                                   table[name])
                except RuntimeError as e:
                    run = {"error": str(e)}
                cells[f"{name}/{connections}"]["runs"].append(run)
        for name in live:
            key = f"{name}/{connections}"
            runs = cells[key]["runs"]
            ok = [r for r in runs if "error" not in r and r.get("errors") == 0]
            if ok:
                print(f"lab: {label}{key}: {statistics.median(r['req_per_s'] for r in ok):.0f} req/s, "
                      f"{statistics.median(r['server_cpu_us_per_req'] or 0 for r in ok):.2f} us CPU/req, "
                      f"{len(runs) - len(ok)} failed runs", file=sys.stderr)
            else:
                print(f"lab: {label}{key}: failed: {runs[-1]}", file=sys.stderr)


def counts_from_env():
    return [int(c) for c in os.environ.get(
        "LAB_CONNECTIONS", ",".join(map(str, CONNECTIONS))).split(",")]


def env_list(name, default):
    """A comma-separated list from the environment; "none" is the empty list."""
    value = os.environ.get(name, ",".join(default))
    return [] if value in ("", "none") else value.split(",")


def main():
    nofile = raise_nofile()
    servers = env_list("LAB_SERVERS", SERVERS)
    backends = env_list("LAB_BACKENDS", BACKENDS)
    unknown = [n for n in servers if n not in SERVERS] + [n for n in backends if n not in BACKENDS]
    if unknown:
        sys.exit(f"lab: unknown server or backend {unknown}: servers {list(SERVERS)}, "
                 f"backends {list(BACKENDS)} (baseline needs LAB_BASELINE)")
    # The backends at 1, 100 and 1 000 connections (those of them that
    # LAB_CONNECTIONS keeps, if set).
    backend_counts = [c for c in BACKEND_CONNECTIONS
                      if "LAB_CONNECTIONS" not in os.environ or c in counts_from_env()]
    counts = counts_from_env()
    duration_env = os.environ.get("LAB_DURATION")

    def duration_for(connections):
        if duration_env:
            return float(duration_env)
        if QUICK:
            return 0.5
        # Above 100 connections a window holds fewer rounds per connection:
        # 1.5 s windows (3 repetitions) gave asyncio ÷ selector 1.10× at
        # 1 000 where 3 s windows (5 repetitions) give 1.02× [1.00–1.05].
        return 1.0 if connections <= 100 else 3.0

    warmup = float(os.environ.get("LAB_WARMUP", "0.2" if QUICK else "0.5"))
    reps_env = os.environ.get("LAB_REPS")

    def reps_for(connections):
        if reps_env:
            return int(reps_env)
        if QUICK:
            return 1
        return 5

    t0 = time.monotonic()
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": QUICK, "duration_s": {c: duration_for(c) for c in counts}, "warmup_s": warmup,
        "nofile": nofile,
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "servers": {n: SERVERS[n][1] for n in servers},
        "connections": counts, "cells": {}, "idle": {},
    }
    table = {name: SERVERS[name][0] for name in servers}
    run_table(table, counts, result["cells"], reps_for, duration_for, warmup)
    if backends:
        result["backends"] = {
            "servers": {n: BACKENDS[n][1] for n in backends},
            "connections": backend_counts, "baseline": BASELINE, "cells": {},
        }
        table = {name: BACKENDS[name][0] for name in backends}
        run_table(table, backend_counts, result["backends"]["cells"], reps_for, duration_for,
                  warmup, label="backend ")
    def idle_reps(name):
        # 3 for the target (selector) and the peers; 1 for the other models,
        # slow to accept 10 000 (busy-poll and poll scan every connection).
        if QUICK or name not in ("selector", "asyncio", "tokio", "python", "floor"):
            return 1
        return 3

    for name in servers:
        if name == "threadpool" or (name == "select" and IDLE_CONNECTIONS > FD_SETSIZE):
            result["idle"][name] = {"na": not_applicable(name, IDLE_CONNECTIONS)}
            continue
        runs = []
        for _ in range(idle_reps(name)):
            try:
                runs.append(idle_test(name, IDLE_CONNECTIONS))
            except (OSError, RuntimeError) as e:
                runs.append({"error": str(e)})
        result["idle"][name] = {"runs": runs}
        ok = [r["per_conn_bytes"] for r in runs if "per_conn_bytes" in r]
        print(f"lab: idle {name}: "
              + (f"{statistics.median(ok):.0f} B per connection" if ok else f"failed: {runs}"),
              file=sys.stderr)
    syscall_servers = [n for n in env_list("LAB_SYSCALLS", SYSCALL_SERVERS) if n in SERVERS]
    if syscall_servers:
        result["syscalls"] = {
            "connections": SYSCALL_CONNECTIONS,
            "cells": syscall_table(syscall_servers, SYSCALL_CONNECTIONS, 0.5 if QUICK else 2.0),
        }
    result["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    result["elapsed_s"] = round(time.monotonic() - t0, 1)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "lab.json").write_text(json.dumps(result, indent=1))
    print(f"lab: done in {result['elapsed_s']} s: target/bench/lab.json", file=sys.stderr)


if __name__ == "__main__":
    main()
