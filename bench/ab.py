#!/usr/bin/env python3
"""Paired before/after of one criterion bench: the library at a base revision
against the library in the working tree, with the same bench code.

    python3 bench/ab.py BASE BENCH [--filter F] [--reps 5]

  BASE    a git revision (the "before" library)
  BENCH   a bench of the synclings-bench package (queue, ipc, primitives, ...)

It checks BASE out into target/ab/base (a git worktree), copies this tree's
source of the bench over BASE's (so both sides run the same benchmark code;
it must compile against the old library; a bench whose body lives in
benches/unix/ or benches/linux/ is copied from there), builds both, then runs them
alternately REPS times (A B, B A, A B, ...: neither always goes first) and
prints, for each benchmark, after/before throughput paired by repetition:
median [min-max] (above 1x: the working tree is faster).
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINE = re.compile(r"^test (\S+) \.\.\. bench:\s+([\d,]+) ns/iter")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def build(tree, target_dir, bench):
    """Builds the bench in `tree` and returns its executable's path."""
    out = run(
        ["cargo", "bench", "-p", "synclings-bench", "--bench", bench, "--no-run",
         "--message-format=json"],
        cwd=tree, env={**os.environ, "CARGO_TARGET_DIR": target_dir},
        stdout=subprocess.PIPE, text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == bench \
                and msg.get("executable"):
            return msg["executable"]
    sys.exit(f"ab.py: no executable for bench {bench} in {tree}")


def measure(exe, filt):
    """One run of a bench executable: {benchmark: ns per iteration}."""
    cmd = [exe, "--bench", "--output-format", "bencher"] + ([filt] if filt else [])
    # Criterion's own files go under target/ab: target/criterion holds the
    # last bench/run.sh's results, which report.py renders.
    env = {**os.environ, "CRITERION_HOME": os.path.join(ROOT, "target", "ab", "criterion")}
    out = run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env).stdout
    return {m.group(1): int(m.group(2).replace(",", ""))
            for m in map(LINE.match, out.splitlines()) if m}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("base")
    ap.add_argument("bench")
    ap.add_argument("--filter", default="")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()

    base_tree = os.path.join(ROOT, "target", "ab", "base")
    if os.path.exists(base_tree):
        run(["git", "worktree", "remove", "--force", base_tree], cwd=ROOT)
    run(["git", "worktree", "add", "--detach", "-q", base_tree, args.base], cwd=ROOT)
    try:
        benches = os.path.join(ROOT, "bench", "benches")
        source = next(p for p in (os.path.join(benches, d, args.bench + ".rs")
                                  for d in ("unix", "linux", ".")) if os.path.exists(p))
        shutil.copy(source, os.path.join(base_tree, "bench", "benches", args.bench + ".rs"))
        before = build(base_tree, os.path.join(ROOT, "target", "ab", "target"), args.bench)
        after = build(ROOT, os.path.join(ROOT, "target"), args.bench)
        ratios, rates = {}, {}
        for rep in range(args.reps):
            order = [("before", before), ("after", after)]
            if rep % 2:
                order.reverse()
            got = {side: measure(exe, args.filter) for side, exe in order}
            print(f"repetition {rep + 1}/{args.reps} done ({order[0][0]} first)", file=sys.stderr)
            for name, ns_after in got["after"].items():
                ns_before = got["before"].get(name)
                if ns_before:
                    ratios.setdefault(name, []).append(ns_before / ns_after)
                    rates.setdefault(name, []).append((1e3 / ns_before, 1e3 / ns_after))
    finally:
        run(["git", "worktree", "remove", "--force", base_tree], cwd=ROOT)

    print(f"after (working tree) vs before ({args.base}), {args.reps} paired repetitions")
    print("| benchmark | before M iter/s (median) | after M iter/s (median) "
          "| after ÷ before: median [min–max] |")
    print("|---|---|---|---|")
    for name, rs in ratios.items():
        b = statistics.median(r[0] for r in rates[name])
        a = statistics.median(r[1] for r in rates[name])
        print(f"| {name} | {b:.3f} | {a:.3f} | {statistics.median(rs):.2f}× "
              f"[{min(rs):.2f}–{max(rs):.2f}] |")


if __name__ == "__main__":
    main()
