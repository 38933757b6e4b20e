"""Side-by-side timings of fastnn builds or ISA paths that cannot share one process: two
builds of the same sources (gcc and clang), or one build under two FASTNN_MAX_CPU_ISA caps.

Each variant runs ``python -m fastnn bench`` in its own interpreter; the variants take turns
(A, B, A, B, ...) for ``--turns`` turns of ``--rounds`` rounds each, so that background load
hits them alike.  A case's time is the median over all its turns' medians; the table shows
each variant's time relative to the first one's, and the copy's (the memory floor, the same
code in every variant: its ratio shows the noise).

    python bench/compare_builds.py gcc=/path/to/tree clang=/path/to/clang-tree \\
        --turns 5 --rounds 3 -- --size 1M --threads 1
    python bench/compare_builds.py avx2=.,FASTNN_MAX_CPU_ISA=avx2 \\
        baseline=.,FASTNN_MAX_CPU_ISA=baseline -- --size 8M --threads 2

A variant is ``label=tree[,NAME=value...]``: the tree goes first on PYTHONPATH (an in-place
build), the NAME=value pairs into the environment.  Arguments after ``--`` go to
``fastnn bench``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def parse_variant(text):
    label, _, rest = text.partition("=")
    tree, *pairs = rest.split(",")
    if not label or not tree:
        raise argparse.ArgumentTypeError(f"{text!r}: expected label=tree[,NAME=value...]")
    env = dict(pair.split("=", 1) for pair in pairs)
    return label, os.path.abspath(tree), env


def run_once(tree, env, rounds, bench_args):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        full_env = dict(os.environ, PYTHONPATH=tree, **env)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "fastnn",
                "bench",
                "--no-torch",
                "--quiet",
                "--rounds",
                str(rounds),
                "--json",
                out,
                *bench_args,
            ],
            env=full_env,
            check=True,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
        )
        with open(out) as f:
            payload = json.load(f)
    return payload


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+", type=parse_variant)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args, bench_args = parser.parse_known_args(argv)
    bench_args = [a for a in bench_args if a != "--"]
    times = {}  # (kernel, dtype, shape) -> label -> impl -> [medians]
    paths = {}
    for _ in range(args.turns):
        for label, tree, env in args.variants:
            payload = run_once(tree, env, args.rounds, bench_args)
            paths[label] = payload["header"].get("isa_path", env.get("FASTNN_MAX_CPU_ISA", ""))
            for case in payload["cases"]:
                key = (case["kernel"], case["dtype"], "x".join(map(str, case["shape"])))
                per = times.setdefault(key, {}).setdefault(label, {})
                for impl in ("fastnn", "copy", "numpy"):
                    if case["seconds"].get(impl):
                        per.setdefault(impl, []).append(case["seconds"][impl])
    labels = [label for label, _, _ in args.variants]
    first = labels[0]
    print(
        f"# {args.turns} turns x {args.rounds} rounds per variant, interleaved; "
        f"ratios = variant time / {first} time (copy: the memory floor, same code)"
    )
    head = ["kernel", "dtype", "shape", f"{first} us"]
    for label in labels[1:]:
        head += [f"{label}/{first}", f"copy {label}/{first}"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for key, per in times.items():
        base = statistics.median(per[first]["fastnn"])
        row = [*key, f"{base * 1e6:.1f}"]
        for label in labels[1:]:
            t = statistics.median(per[label]["fastnn"])
            c0 = statistics.median(per[first].get("copy", [float("nan")]))
            c1 = statistics.median(per[label].get("copy", [float("nan")]))
            row += [f"{t / base:.2f}", f"{c1 / c0:.2f}"]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
