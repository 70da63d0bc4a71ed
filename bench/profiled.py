"""`python -m bench.profiled OUT -m nameko run ...`: a benchmark's service under cProfile, its statistics
written to OUT when it stops (bench/pipeline.py uses it with BENCH_PROFILE=<directory>)."""

from __future__ import annotations

import atexit
import cProfile
import runpy
import sys


def main() -> None:
    out, module, args = sys.argv[1], sys.argv[3], sys.argv[4:]
    profiler = cProfile.Profile()
    atexit.register(lambda: (profiler.disable(), profiler.dump_stats(out)))
    sys.argv = [module, *args]
    profiler.enable()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
