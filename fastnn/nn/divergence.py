"""The divergence rule of the training loops (ClassifierTrainer, Solver): when to stop and the
one line that says why."""

import math

__all__ = ["divergence_reason"]


def divergence_reason(
    cost: float,
    first_cost: float,
    iteration: int,
    epoch: int,
    num_epochs: int,
    learning_rate: float | None,
    abort_cost_ratio: float | None = None,
) -> str | None:
    """Why training must stop after this iteration's ``cost``, or None to go on.

    A NaN or infinite cost always stops (after the first update the learning rate is almost
    surely too high; at iteration 1 it cannot be the cause); with
    ``abort_cost_ratio``, so does a cost above that multiple of ``first_cost`` (the notes' rule
    for searches is 3.0).  iteration and epoch count from 1; learning_rate None (an update rule
    without one) leaves its value out of the message.
    """
    rate = "the learning rate" if learning_rate is None else f"the learning rate {learning_rate:e}"
    if not math.isfinite(cost) and iteration == 1:
        return (
            f"cost is {cost} at iteration 1, before any update: the learning rate is not the "
            "cause; check the data (NaN or infinite values?) and the initial weights; stopping"
        )
    if not math.isfinite(cost):
        return (
            f"cost became {cost} at iteration {iteration} (epoch {epoch} / {num_epochs}): "
            f"{rate} is too high; stopping"
        )
    if abort_cost_ratio is not None and cost > abort_cost_ratio * first_cost:
        return (
            f"cost {cost:f} at iteration {iteration} exceeds {abort_cost_ratio:g} x the first "
            f"cost {first_cost:f}: {rate} is too high; stopping"
        )
    return None
