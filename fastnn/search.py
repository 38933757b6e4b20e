"""Hyper-parameter search: grid, random, coarse-to-fine, successive halving, Hyperband, ASHA.

Section 7 of the lecture notes as routines: sample configurations from ranges, train each for
a few epochs, evaluate on the validation set, narrow the ranges around the best and repeat
(random search beats a grid with the same budget when some parameters matter little:
Bergstra and Bengio, 2012).

Design
------
* The search machinery only needs ``train_fn(params) -> dict`` returning at least
  ``val_acc`` (or ``val_acc_history``); ``train_acc``, ``loss_history``, ``epochs`` and
  ``diverged`` are used when present. If ``train_fn`` takes a ``seed`` keyword it receives a
  per-trial seed. :func:`make_train_fn` builds such a function for the lecture's two-layer net
  and :class:`fastnn.FullyConnectedNet` on top of ``ClassifierTrainer``, or with
  ``trainer='solver'`` for a FullyConnectedNet trained by the course's ``Solver``.
* Reproducibility does not depend on scheduling: every configuration is sampled in the calling
  process before any trial runs, each trial's seed comes from ``SeedSequence(seed,
  spawn_key=(round, 1, index))``, and trials are stored by index, never by completion order.
* ``n_jobs > 1`` runs trials in loky worker processes (the ``parallel`` extra, i.e. joblib)
  whose OpenMP/BLAS thread counts are fixed through the environment *before* the worker imports
  NumPy, and whose fastnn kernels are pinned with ``fastnn.set_num_threads``: two trials on two
  cores must not each start two threads. loky starts the workers and notices one that dies;
  the jobs and results travel over one ``multiprocessing.connection`` per worker, driven by
  the search process's main thread (no thread of its own per job; a job carrying a large
  trial state goes through a file when its worker is still busy, so that neither side can
  block the other). With ``trial_timeout`` each trial is a loky task of its own, whose
  clock starts with it. ``executor=`` accepts any object with
  ``submit(fn, *args)`` returning a future with ``result()`` and ``done()`` (a
  ``concurrent.futures`` executor or a ``distributed.Client``); there the pinning is applied
  around each trial instead, except on a ``ThreadPoolExecutor``, whose trials share the
  process's settings: those are pinned once around the whole run and restored after it.
* :func:`successive_halving` and :func:`hyperband` spend the epochs on the promising trials:
  a few epochs for every configuration, ``eta`` x more for the best ``1 / eta`` of each rung;
  asynchronous (ASHA) with ``n_jobs > 1`` or an executor, so no worker waits for a rung to
  fill.  A promoted trial continues from its ``state`` (the model and the optimizer) instead
  of starting again.  The ``train_fn`` contract they extend is in :func:`successive_halving`.
* ``median_stop=True`` (every search) adds the median-stopping rule: after each epoch a trial
  whose best validation accuracy is below the median of the other trials' running means
  stops (``Trial.stopped``).  Serially each trial is compared with every earlier one, so the
  result depends on the seed only; in parallel jobs are handed out as workers free up and the
  comparison also depends on which trials have finished.
* A trial that raises is recorded as ``failed`` with its error; a trial whose cost exceeds 3x
  its first cost or is not finite is ``diverged`` (the notes' early-break rule; the trainer built
  by :func:`make_train_fn` stops such a run inside its first epoch). Ctrl-C (or a
  ``KeyboardInterrupt`` raised by ``train_fn``) stops the search and returns what finished.
  A NaN ``val_acc`` fails its trial; ``sys.exit()`` in ``train_fn`` fails its trial only.
* ``storage=`` names a journal (SQLite, stdlib ``sqlite3``, WAL mode, one transaction per
  finished trial; the schema follows Optuna's RDB storage, kept small): a search killed by
  SIGKILL or a power cut loses at most the trials in flight, and ``resume=True`` continues it
  with the same seeds, reading back what finished. Several processes may write one journal;
  results from a Dask cluster are written by the calling process.
* With ``n_jobs`` a worker process that dies (segfault, out-of-memory kill, ``os._exit``)
  fails only its own trial: the pool is restarted and the trials that shared it are run again,
  one at a time, until the one that kills its worker is found. After ``CRASHES_IN_A_ROW`` such
  trials in a row the search raises :class:`SearchStopped`, which holds the finished trials.
  ``trial_timeout=`` stops a hung trial (status ``timeout``) and replaces its worker.  After
  a search that ends normally the idle workers wait 60 s for the next search with the same
  settings (a warm start); they are stopped when a search is interrupted or its workers
  crash, when the search process exits, and they exit by themselves if it dies.

This public namespace only re-exports; the implementation is ``fastnn.workflow.search``.
"""

from fastnn.workflow.search import *  # noqa: F403 (re-exports the implementation's __all__)
from fastnn.workflow.search import __all__  # noqa: F401 (the same list, not a copy)
