"""Time the README's test command on a cold build cache: wall clock, CPU time, machine load.

    python benchmarks/bench_tests.py                 # pytest (the default tier)
    python benchmarks/bench_tests.py -- -m "slow or not slow"   # the full tier

Runs ``pytest`` with ``MIXFORGE_CACHE_DIR`` (and so ``CCACHE_DIR``) set to a new empty folder,
then prints the wall time, the CPU time of pytest and everything it started (user + sys), the
load average before and after (the machine is shared: CPU time / cores is the wall time an idle
machine would need at best), and pytest's last line. Figures go in BENCHMARKS.md, "Test time".
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mixforge-cold-") as cold:
        env = {**os.environ, "MIXFORGE_CACHE_DIR": cold}
        env.pop("CCACHE_DIR", None)
        load0 = os.getloadavg()
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               *args.pytest_args], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        load1 = os.getloadavg()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru.ru_utime + ru.ru_stime
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    print(f"pytest {' '.join(args.pytest_args)}: {last}")
    print(f"wall {wall / 60:.1f} min, CPU {cpu / 60:.1f} min (user + sys, all processes) on "
          f"{os.cpu_count()} cores; load average before {load0[0]:.1f}, after {load1[0]:.1f}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
