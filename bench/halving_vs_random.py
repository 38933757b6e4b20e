"""Successive halving / ASHA vs a 60-trial random search and vs Optuna (TPE + Hyperband pruner).

Digits (train/validation split 0.8/0.2, zero-centred), FullyConnectedNet([100]) with batchnorm,
momentum 0.9, lr ~ loguniform(1e-4, 1), reg ~ loguniform(1e-6, 1e-1); the score is the best
validation accuracy on the held-out split.  Per seed:

* random: ``random_search`` with 60 trials of 10 epochs (600 epochs);
* SH: ``successive_halving`` on the same 60 configurations, rungs 1, 3, 10 epochs, serial;
* ASHA: the same with ``n_jobs=2`` (its wall-clock against SH's, and epochs per second;
  the serial runs hold BLAS to one thread, as each of ASHA's worker processes does, so the
  ratio measures the second process, not thread oversubscription; the two worker processes
  are started before the timing), once with the default ``promotion="lazy"`` and once with
  Li et al.'s ``"eager"`` order;
* control: the random search again with ``n_jobs=2`` (the runner's parallelism as such);
* per job of the parallel runs: the serial time per job and the CPU time the search process
  (all its threads) spent per job, which it takes from the cores the two workers train on;
* Optuna: TPESampler + HyperbandPruner(1, 10, 3) with the same train function reporting each
  epoch (trials resume, as ours do), stopped once it has trained as many epochs as SH.

Prints one markdown table of medians over the seeds and every seed's numbers.  Next to the
parallel ratios: the bound ``2 x SH's epochs / ASHA's epochs``, the wall-clock ratio two
perfectly used workers would give (a promotion made before a rung is complete can train
epochs that synchronous successive halving would not).

``--wide``: only SH serial against ASHA ``n_jobs=2`` (and the control), with
``FullyConnectedNet([512, 512])`` so that a rung-0 job (one epoch) takes about 60 ms rather
than 5 ms: the per-job costs of the parallel run (the round trip through this process, the
trial's state both ways, 2.4 MB here) weigh less against the training.

    PYTHONPATH=. python bench/halving_vs_random.py [--quick] [--seeds 5] [--reps 3] [--wide]

Optuna is a benchmark peer only (``pip install optuna``); without it that column is skipped.
"""

import argparse
import os
import statistics
import time
import warnings

from threadpoolctl import threadpool_limits

from fastnn.datasets import load_digits, train_val_split
from fastnn.preprocessing import ZeroCenter
from fastnn.workflow import search

SPACE = {"lr": search.loguniform(1e-4, 1.0), "reg": search.loguniform(1e-6, 1e-1)}


WIDE_HIDDEN_DIMS = [512, 512]
# (row key, promotion order) of the two parallel runs
ASHA_ORDERS = (("asha", "lazy"), ("eager", "eager"))


def make_fn(hidden_dims=(100,)):
    X, y = load_digits()
    X_train, X_val, y_train, y_val = train_val_split(X, y, val_size=0.2, seed=0)
    center = ZeroCenter().fit(X_train)
    return search.make_train_fn(
        center.transform(X_train),
        y_train,
        center.transform(X_val),
        y_val,
        "fc",
        hidden_dims=list(hidden_dims),
        batchnorm=True,
        update="momentum",
        momentum=0.9,
    )


def stateless_fn(params):
    return {"val_acc": params["lr"]}


def epochs_of(result):
    return sum(t.epochs or 0 for t in result)


def jobs_of(result):
    """Calls of train_fn in a one-bracket halving search: one per rung each trial reached."""
    return sum(t.rung + 1 for t in result if t.rung is not None)


def best_of(result):
    return result.best.val_acc if result.best is not None else float("nan")


def optuna_search(fn, seed, budget, max_epochs, eta):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spent = [0]
    best = [-1.0]

    def objective(trial):
        params = {
            "lr": trial.suggest_float("lr", 1e-4, 1.0, log=True),
            "reg": trial.suggest_float("reg", 1e-6, 1e-1, log=True),
        }
        state, value = None, 0.0
        for epoch in range(1, max_epochs + 1):
            out = fn(params, seed=seed * 1000 + trial.number, epochs=epoch, state=state)
            state = out["state"]
            spent[0] += 1
            if out["diverged"]:
                raise optuna.TrialPruned()
            value = max(value, out["val_acc"])
            best[0] = max(best[0], value)
            trial.report(value, epoch)
            if spent[0] >= budget:
                trial.study.stop()
                return value
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max_epochs, reduction_factor=eta
        ),
    )
    study.optimize(objective, n_trials=10_000)
    return best[0], spent[0]


def time_halving(fn, n_trials, max_epochs, eta, seed, row, reps):
    """SH serially and ASHA on 2 worker processes (started before the timing), same trials;
    ``reps`` rounds of the three runs, interleaved, and the median of each one's times."""
    times = {"sh": [], **{key: [] for key, _ in ASHA_ORDERS}}
    cpu = {key: [] for key, _ in ASHA_ORDERS}
    for _ in range(reps):
        with threadpool_limits(1):
            t = time.perf_counter()
            r = search.successive_halving(
                fn, SPACE, n_trials, max_epochs=max_epochs, eta=eta, seed=seed, verbose=False
            )
            times["sh"].append(time.perf_counter() - t)
        row["sh_best"], row["sh_epochs"] = best_of(r), epochs_of(r)
        for key, promotion in ASHA_ORDERS:
            search.random_search(stateless_fn, SPACE, 4, seed=0, n_jobs=2, verbose=False)
            c, t = time.process_time(), time.perf_counter()
            r = search.successive_halving(
                fn,
                SPACE,
                n_trials,
                max_epochs=max_epochs,
                eta=eta,
                seed=seed,
                n_jobs=2,
                promotion=promotion,
                verbose=False,
            )
            times[key].append(time.perf_counter() - t)
            cpu[key].append(time.process_time() - c)
            row[f"{key}_best"], row[f"{key}_epochs"] = best_of(r), epochs_of(r)
            row[f"{key}_jobs"] = jobs_of(r)
    for key, values in times.items():
        row[f"{key}_seconds"] = statistics.median(values)
    for key, values in cpu.items():
        row[f"{key}_search_cpu"] = statistics.median(values)


def time_control(fn, space, n_trials, seed, row, reps):
    """The same random search serially and on the two worker processes (``reps`` rounds,
    interleaved, median times)."""
    serial, parallel = [], []
    for _ in range(reps):
        with threadpool_limits(1):
            t = time.perf_counter()
            r = search.random_search(fn, space, n_trials, seed=seed, verbose=False)
            serial.append(time.perf_counter() - t)
        search.random_search(stateless_fn, SPACE, 4, seed=0, n_jobs=2, verbose=False)
        t = time.perf_counter()
        search.random_search(fn, space, n_trials, seed=seed, n_jobs=2, verbose=False)
        parallel.append(time.perf_counter() - t)
    row["random_seconds"] = statistics.median(serial)
    row["random2_seconds"] = statistics.median(parallel)
    return r


def parallel_line(rows, med, key, promotion):
    """ASHA n_jobs=2 (row ``key``) against SH serial: wall-clock and epochs per second, each
    with its bound, medians over the seeds."""
    speed = [r["sh_seconds"] / r[f"{key}_seconds"] for r in rows]
    rate = [
        (r[f"{key}_epochs"] / r[f"{key}_seconds"]) / (r["sh_epochs"] / r["sh_seconds"])
        for r in rows
    ]
    bound = [2 * r["sh_epochs"] / r[f"{key}_epochs"] for r in rows]
    control = statistics.median(r["random_seconds"] / r["random2_seconds"] for r in rows)
    return (
        f"SH serial / ASHA n_jobs=2, promotion={promotion}: wall-clock median "
        f"{statistics.median(speed):.2f}x (bound {statistics.median(bound):.2f}x), epochs per "
        f"second {statistics.median(rate):.2f}x (bound 2.00x); SH {med['sh_seconds']:.2f} s "
        f"{med['sh_epochs']:.0f} epochs, ASHA {med[f'{key}_seconds']:.2f} s "
        f"{med[f'{key}_epochs']:.0f} epochs; control: random_search serial / n_jobs=2 "
        f"{control:.2f}x; load average {os.getloadavg()[0]:.1f}\n"
        f"  per job ({med[f'{key}_jobs']:.0f} jobs): serial SH "
        f"{1e3 * med['sh_seconds'] / med[f'{key}_jobs']:.2f} ms; the search process's CPU "
        f"{1e6 * med[f'{key}_search_cpu'] / med[f'{key}_jobs']:.0f} us "
        f"({1e3 * med[f'{key}_search_cpu']:.1f} ms per run, on the workers' two cores)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 20 trials (a smoke run)")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument(
        "--reps",
        type=int,
        default=1,
        help="timed rounds per seed, interleaved (median times; the VM drifts between runs)",
    )
    parser.add_argument(
        "--wide",
        action="store_true",
        help=f"FullyConnectedNet({WIDE_HIDDEN_DIMS}): parallel timing only, longer jobs",
    )
    args = parser.parse_args()
    n_seeds = args.seeds or (2 if args.quick else 5)
    n_trials, max_epochs, eta = (20, 10, 3) if args.quick else (60, 10, 3)
    fn = make_fn(WIDE_HIDDEN_DIMS if args.wide else (100,))
    have_optuna = not args.wide
    if have_optuna:
        try:
            import optuna  # noqa: F401
        except ImportError:
            have_optuna = False
    random_space = {**SPACE, "num_epochs": max_epochs}
    # the control's jobs: as long as a rung-0 job in --wide, 10 epochs otherwise
    control_space = {**SPACE, "num_epochs": 1} if args.wide else random_space
    rows = []
    for seed in range(n_seeds):
        row = {"seed": seed}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", search.RangeEdgeWarning)
            r = time_control(fn, control_space, n_trials, seed, row, args.reps)
        if not args.wide:
            row["random_best"], row["random_epochs"] = best_of(r), epochs_of(r)
        time_halving(fn, n_trials, max_epochs, eta, seed, row, args.reps)
        if have_optuna:
            with threadpool_limits(1):
                row["optuna_best"], row["optuna_epochs"] = optuna_search(
                    fn, seed, row["sh_epochs"], max_epochs, eta
                )
        rows.append(row)
        print(" ".join(f"{k}={v:.4g}" for k, v in row.items()), flush=True)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "seed"}
    print()
    net = f"FullyConnectedNet({WIDE_HIDDEN_DIMS if args.wide else [100]})"
    print(
        f"medians over {n_seeds} seeds; {net}, {n_trials} trials, rungs "
        f"{search.rung_epochs(1, max_epochs, eta)}, eta {eta}"
    )
    print()
    if not args.wide:
        print("| search | best val acc | epochs | vs random: acc diff | epochs share |")
        print("|---|---|---|---|---|")
        names = [
            ("random", f"random search, {max_epochs} epochs each"),
            ("sh", "successive halving (serial)"),
            ("asha", "ASHA, n_jobs=2 (lazy promotion)"),
            ("eager", "ASHA, n_jobs=2 (eager promotion)"),
        ]
        if have_optuna:
            names.append(("optuna", "Optuna TPE + HyperbandPruner, SH's epochs"))
        for key, label in names:
            best, epochs = med[f"{key}_best"], med[f"{key}_epochs"]
            print(
                f"| {label} | {best:.4f} | {epochs:.0f} | {best - med['random_best']:+.4f} | "
                f"{epochs / med['random_epochs']:.2f} |"
            )
        print()
    for key, promotion in ASHA_ORDERS:
        print(parallel_line(rows, med, key, promotion))


if __name__ == "__main__":
    main()
