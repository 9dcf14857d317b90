"""How many questions are enough? Accuracy and its resampling spread as a function of N (paper appendix A.3).

For a set of T per-sample outcomes with C correct, the accuracy of a random subset of N questions only
depends on how many of them are correct: drawn without replacement (``subsample``, N <= T) that count is
hypergeometric(C, T - C, N); drawn with replacement (``bootstrap``) it is binomial(N, C / T). Both are
sampled exactly, in O(resamples) per N, whatever T is. The table also has the accuracy of one nested
random subset per N (the first N of a seeded permutation), as in the paper's Table 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

Method = Literal["subsample", "bootstrap"]
DEFAULT_SIZES: tuple[int, ...] = (500, 1000, 2000, 5000, 8000, 10000, 20000, 30000)  # Table 1's sizes
GROUP_COLUMNS: tuple[str, ...] = ("run", "model", "eval_set", "protocol", "step")  # predictions() keys
COLUMNS: tuple[str, ...] = (
    "n", "accuracy", "mean", "std", "ci_low", "ci_high", "max_abs_dev", "full_accuracy", "total",
)  # fmt: skip


def accuracy_vs_sample_size(
    correct: Sequence[bool] | np.ndarray,
    sizes: Sequence[int] = DEFAULT_SIZES,
    *,
    method: Method = "subsample",
    num_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Accuracy of random N-question subsets, for each N in ``sizes``.

    Args:
        correct: per-sample outcomes (bool or 0/1), length T.
        sizes: subset sizes N; for ``subsample`` those above T are dropped (T itself is always valid).
        method: ``"subsample"`` (without replacement, as in the paper) or ``"bootstrap"`` (with replacement).
        num_resamples: resampled subsets per N.
        confidence: level of the percentile interval (``ci_low``, ``ci_high``).
        seed: seeds the resamples and the nested subset.

    Returns:
        One row per N with ``COLUMNS``: ``accuracy`` of the nested subset (the first N of a seeded
        permutation), ``mean`` / ``std`` / percentile interval of the resampled accuracies,
        ``max_abs_dev`` the largest |resampled - full| accuracy, ``full_accuracy`` and ``total`` = T.
    """
    outcomes = np.asarray(correct)
    if outcomes.ndim != 1 or len(outcomes) == 0:
        raise ValueError(f"correct must be a non-empty 1-D array, got shape {outcomes.shape}")
    if not np.isin(outcomes, (0, 1)).all():
        raise ValueError("correct must hold booleans or 0/1 values")
    if method not in ("subsample", "bootstrap"):
        raise ValueError(f"unknown method {method!r}; valid: 'subsample', 'bootstrap'")
    outcomes = outcomes.astype(bool)
    total, hits = len(outcomes), int(outcomes.sum())
    full = hits / total
    rng = np.random.default_rng(seed)
    nested = np.cumsum(outcomes[rng.permutation(total)])  # (T,) correct among the first N of one permutation
    alpha = (1.0 - confidence) / 2.0
    rows = []
    for n in sorted(set(sizes)):
        if n < 1 or (method == "subsample" and n > total):
            continue
        if method == "subsample":
            counts = rng.hypergeometric(hits, total - hits, n, size=num_resamples)
        else:
            counts = rng.binomial(n, full, size=num_resamples)
        acc = counts / n  # (R,)
        rows.append(
            {
                "n": n,
                "accuracy": nested[n - 1] / n if n <= total else np.nan,
                "mean": float(acc.mean()),
                "std": float(acc.std(ddof=1)) if num_resamples > 1 else 0.0,
                "ci_low": float(np.quantile(acc, alpha)),
                "ci_high": float(np.quantile(acc, 1.0 - alpha)),
                "max_abs_dev": float(np.abs(acc - full).max()),
                "full_accuracy": full,
                "total": total,
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def sample_size_table(
    predictions: pd.DataFrame,
    sizes: Sequence[int] = DEFAULT_SIZES,
    *,
    method: Method = "subsample",
    num_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`accuracy_vs_sample_size` for every (run, model, eval_set, protocol, step) group.

    Args:
        predictions: a frame with a ``correct`` column, e.g. ``ResultsStore.predictions()``; grouped by
            those of ``GROUP_COLUMNS`` it has (one group if none).
        sizes, method, num_resamples, confidence, seed: as in :func:`accuracy_vs_sample_size`
            (every group uses ``seed``).

    Returns:
        The group columns followed by ``COLUMNS``, one row per group and N.
    """
    if "correct" not in predictions.columns:
        raise KeyError(
            f"predictions has no 'correct' column; columns: {', '.join(map(str, predictions.columns))}"
        )
    keys = [c for c in GROUP_COLUMNS if c in predictions.columns]
    groups = predictions.groupby(keys, sort=True) if keys else [((), predictions)]
    frames = []
    for key, group in groups:
        table = accuracy_vs_sample_size(
            group["correct"].to_numpy(), sizes, method=method, num_resamples=num_resamples,
            confidence=confidence, seed=seed,
        )  # fmt: skip
        key = key if isinstance(key, tuple) else (key,)
        for col, value in zip(keys, key, strict=True):
            table.insert(keys.index(col), col, value)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)
