"""``fastnn bench``: every kernel against NumPy, PyTorch and the memory floor, one table."""

import os
import sys

from fastnn import bench
from fastnn._config import openmp
from fastnn._kernels._runtime import CAP_VARIABLE
from fastnn.cli.common import CLIError, say, set_threads
from fastnn.cli.torch_first import rerun_fresh, rerun_with_torch_first
from fastnn.workflow.progress import terminal_tqdm


def stderr_progress():
    """A run_bench progress callback: a tqdm bar on a terminal (with tqdm installed), else one
    line per case on stderr."""
    tqdm = terminal_tqdm()
    if tqdm is None:

        def plain(done, total, label):
            if done < total:
                print(f"fastnn bench [{done + 1}/{total}] {label}", file=sys.stderr, flush=True)

        return plain
    bar = None

    def update(done, total, label):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="fastnn bench", unit="case", leave=False)
        bar.set_postfix_str(label)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def rerun_with_isa_cap(args):
    """Re-run this bench in a fresh interpreter with FASTNN_MAX_CPU_ISA=args.isa (the path is
    chosen at import) and return its exit code; None when this process already runs under it."""
    if args.isa is None or os.environ.get(CAP_VARIABLE, "").strip().lower() == args.isa:
        return None
    return rerun_fresh(args.argv, dict(openmp.user_environ(), **{CAP_VARIABLE: args.isa}))


def cmd_bench(args):
    rerun = rerun_with_isa_cap(args)
    if rerun is None:
        rerun = rerun_with_torch_first(args)
    if rerun is not None:
        return rerun
    set_threads(args.threads)  # resolves -1 to all usable cores
    head = bench.header()
    progress = None if args.quiet else stderr_progress()
    try:
        cases = bench.run_bench(
            sizes=args.size,
            dtypes=args.dtype,
            kernels=args.kernel,
            rounds=args.rounds,
            min_time=args.min_time,
            use_torch=not args.no_torch,
            progress=progress,
        )
    except ValueError as exc:  # unknown kernel name
        raise CLIError(str(exc)) from None
    if not args.no_torch and head["torch"] is None:
        say("PyTorch is not installed: the torch column is empty", file=sys.stderr)
    sys.stdout.write(bench.format_table(cases, head, markdown=args.markdown))
    if args.json:
        settings = {
            "sizes": [s if not isinstance(s, tuple) else list(s) for s in args.size],
            "dtypes": list(args.dtype),
            "rounds": args.rounds,
            "min_time": args.min_time,
        }
        try:
            bench.write_json(args.json, cases, head, settings)
        except OSError as exc:
            raise CLIError(f"cannot write {args.json}: {exc.strerror}") from None
        say(f"wrote {os.path.abspath(args.json)}", file=sys.stderr)
    failed = [case for case in cases if case.error]
    return 1 if failed else 0
