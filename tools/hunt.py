#!/usr/bin/env python3
"""Hunt for tests that fail by chance: the whole suite, many times, each run
in a different random order (pytest-randomly), on a machine kept busy.

    pip install pytest-randomly
    python tools/hunt.py [--runs 30] [--burners 2] [--seed 1] [-- PYTEST ARGS]

Each run gets seed N, N+1, ...; a failing run prints its seed, so
`python -m pytest -p randomly --randomly-seed=SEED` replays
the same order.  `--burners` starts that many CPU-burning processes
alongside (the load a busy CI machine has).  Exits non-zero if any run
failed; prints how many consecutive runs passed.
"""
import argparse
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def burn():
    while True:
        pass


def run_suite(seed, extra):
    command = [sys.executable, "-m", "pytest", "-p", "randomly",
               f"--randomly-seed={seed}", "-p", "no:cacheprovider", *extra]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    return done.returncode, time.monotonic() - started, last, done.stdout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args(argv)
    burners = [multiprocessing.Process(target=burn, daemon=True)
               for _ in range(args.burners)]
    for process in burners:
        process.start()
    failed, streak = [], 0
    try:
        for number in range(args.runs):
            seed = args.seed + number
            code, seconds, last, output = run_suite(seed, args.pytest_args)
            print(f"run {number + 1:3d}  seed {seed:5d}  {seconds:6.1f} s  {last}",
                  flush=True)
            if code == 0:
                streak += 1
                continue
            streak = 0
            failed.append(seed)
            print("\n".join(line for line in output.splitlines()
                            if line.startswith(("FAILED", "ERROR"))), flush=True)
    finally:
        for process in burners:
            process.terminate()
    print(f"{args.runs - len(failed)} of {args.runs} runs passed; the last {streak} "
          f"in a row; failing seeds: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
