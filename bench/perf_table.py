"""The performance page's kernel tables, one per ISA path this machine runs, as markdown.

Runs ``fastnn bench --markdown --isa <path>`` (a fresh interpreter per path, PyTorch imported
first, as the page's tables were made) for every path from the requested list that the CPU and
OS support, and prints each table under a heading naming the path and the CPU, ready to paste
into docs/performance.md whole.  A path above what the CPU supports is skipped (``fastnn bench``
would silently run the best path instead, which would mislabel the table).

    python bench/perf_table.py --threads 2 --rounds 15 > tables.md
    python bench/perf_table.py --paths avx2 --size large --threads 1
"""

import argparse
import datetime
import subprocess
import sys

from fastnn._config.openmp import user_environ
from fastnn._kernels import _runtime
from fastnn.bench import header


def supported_paths():
    """The ISA paths this CPU and OS can run, lowest first."""
    best = _runtime.ISA_NAMES.index(_runtime.supported_isa(_runtime.cpu_mask()))
    return list(_runtime.ISA_NAMES[: best + 1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", default="baseline,avx2,avx512", help="comma-separated")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--rounds", default="15")
    parser.add_argument("--size", nargs="+", default=["all"])
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)
    runnable = supported_paths()
    cpu = header()["cpu"]
    today = datetime.date.today().isoformat()
    for path in filter(None, args.paths.split(",")):
        if path not in runnable:
            print(f"<!-- {path}: not supported by this CPU/OS ({cpu}); skipped -->\n")
            continue
        options = ["--markdown", "--quiet", "--isa", path, "--threads", args.threads]
        options += ["--rounds", args.rounds, "--size", *args.size]
        command = [sys.executable, "-m", "fastnn", "bench", *options]
        if args.no_torch:
            command.append("--no-torch")
        shown = "fastnn bench " + " ".join(command[4:])
        print(f"### The {path} path: {cpu}\n")
        print(f"Measured on {today} with `{shown}`:\n", flush=True)
        # without the OpenMP settings this process's `import fastnn` made, so that the child
        # imports PyTorch first at libgomp's defaults, as `fastnn bench` alone does
        table = subprocess.run(
            command, check=True, capture_output=True, text=True, env=user_environ()
        ).stdout
        print(table.rstrip() + "\n", flush=True)


if __name__ == "__main__":
    main()
