"""Fit robustness lines and effective robustness over a wide results table.

A *wide table* has one row per model: a ``model`` column plus one column per eval set, holding
accuracies either in percent (0–100) or as fractions (0–1). Percent is detected when any used
value exceeds 1; outputs keep the input units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vlmrobust.core.effective import clipped_points, effective_robustness
from vlmrobust.core.linefit import LineFit, Units, accuracy_interval, fit_line
from vlmrobust.core.suggest import did_you_mean
from vlmrobust.core.transforms import TransformName, get_transform

#: Leading columns of :attr:`RobustnessReport.effective`, in order.
EFFECTIVE_COLUMNS: tuple[str, ...] = (
    "model",
    "ood",
    "id_acc",
    "ood_acc",
    "predicted_ood_acc",
    "effective_robustness",
)
#: Extra columns that follow: transformed-unit distance, clipping flag, baseline membership and
#: per-point Clopper–Pearson 95 % intervals (NaN when the eval set's sample count is unknown).
EXTRA_COLUMNS: tuple[str, ...] = (
    "er_transformed",
    "clipped",
    "baseline",
    "id_ci_low",
    "id_ci_high",
    "ood_ci_low",
    "ood_ci_high",
)


class RobustnessInputError(ValueError):
    """Bad input table, column or baseline list (the message names what is wrong)."""


@dataclass(frozen=True, eq=False)
class RobustnessReport:
    """Lines and effective robustness for one ID column against several OOD columns."""

    lines: dict[str, LineFit]  # OOD column -> baseline line
    effective: pd.DataFrame  # EFFECTIVE_COLUMNS + EXTRA_COLUMNS, one row per (model, OOD column)
    skipped: dict[str, int]  # OOD column -> number of rows skipped for a missing ID or OOD value
    units: Units  # units of every accuracy in this report (those of the input table)
    id_col: str  # the ID column
    transform: TransformName  # accuracy transform of the lines
    baseline: tuple[str, ...]  # models the lines were fitted on
    skipped_models: dict[str, tuple[str, ...]] = field(default_factory=dict)  # OOD column -> skipped models
    n_samples: dict[str, int] = field(default_factory=dict)  # eval set -> test-set size, where known

    def points(self, ood: str) -> pd.DataFrame:
        """Rows of :attr:`effective` for one OOD column."""
        if ood not in self.lines:
            raise KeyError(f"no line for {ood!r}. {did_you_mean(ood, self.lines, 'OOD columns')}")
        return self.effective[self.effective["ood"] == ood].reset_index(drop=True)


def _require_columns(table: pd.DataFrame, names: Sequence[str], model_col: str) -> None:
    available = [str(c) for c in table.columns if c != model_col]
    for name in names:
        if name not in table.columns:
            raise RobustnessInputError(
                f"column {name!r} is not in the table. {did_you_mean(name, available, 'columns')}"
            )


def _numeric(table: pd.DataFrame, col: str, models: pd.Series) -> pd.Series:
    values = pd.to_numeric(table[col], errors="coerce")
    bad = values.isna() & table[col].notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise RobustnessInputError(
            f"column {col!r}, model {models.iloc[i]!r}: value {table[col].iloc[i]!r} is not a number"
        )
    return values.astype(float)


def detect_units(values: np.ndarray) -> Units:
    """``"percent"`` if any finite value exceeds 1, else ``"fraction"``."""
    finite = values[np.isfinite(values)]
    return "percent" if finite.size and finite.max() > 1.0 else "fraction"


def fit_robustness(
    table: pd.DataFrame,
    id_col: str,
    ood_cols: Sequence[str],
    baseline: Sequence[str] | None = None,
    transform: TransformName = "probit",
    model_col: str = "model",
    n_samples: Mapping[str, int] | None = None,
) -> RobustnessReport:
    """Fit one baseline line per OOD column and the effective robustness of every model.

    Rows missing the ID or the OOD value are skipped for that OOD column and counted in
    :attr:`RobustnessReport.skipped` (never filled).

    Args:
        table: wide table, one row per model.
        id_col: column of ID accuracies.
        ood_cols: columns of OOD accuracies, one line each.
        baseline: models the lines are fitted on; ``None`` means every model.
        transform: accuracy transform of the lines.
        model_col: column naming the models (must be unique).
        n_samples: optional test-set size per eval-set column, for the clipping rule and the
            per-point Clopper–Pearson intervals.

    Raises:
        RobustnessInputError: unknown column, unknown baseline model, duplicate model names,
            non-numeric or out-of-range values, or fewer than 2 baseline points for a column.
    """
    get_transform(transform)  # fail early on a bad name
    ood_cols = list(ood_cols)
    if not ood_cols:
        raise RobustnessInputError("no OOD columns given")
    if model_col not in table.columns:
        raise RobustnessInputError(
            f"model column {model_col!r} is not in the table. "
            f"{did_you_mean(model_col, [str(c) for c in table.columns], 'columns')}"
        )
    _require_columns(table, [id_col, *ood_cols], model_col)
    models = table[model_col].astype(str).reset_index(drop=True)
    dupes = sorted(set(models[models.duplicated()]))
    if dupes:
        raise RobustnessInputError(f"model names must be unique; duplicated: {', '.join(dupes)}")
    table = table.reset_index(drop=True)
    values = {c: _numeric(table, c, models) for c in dict.fromkeys([id_col, *ood_cols])}
    units = detect_units(np.concatenate([v.to_numpy() for v in values.values()]))
    top = 100.0 if units == "percent" else 1.0
    for col, v in values.items():
        out = (v < 0) | (v > top)
        if out.any():
            i = int(np.flatnonzero(out.to_numpy())[0])
            raise RobustnessInputError(
                f"column {col!r}, model {models.iloc[i]!r}: accuracy {v.iloc[i]} outside [0, {top:g}] ({units})"
            )

    if baseline is None:
        base_names = tuple(models)
    else:
        base_names = tuple(dict.fromkeys(str(b) for b in baseline))
        known = set(models)
        unknown = [b for b in base_names if b not in known]
        if unknown:
            raise RobustnessInputError(
                f"baseline model(s) not in the table: {', '.join(unknown)}. "
                f"{did_you_mean(unknown[0], sorted(known), 'models')}"
            )
    is_base = models.isin(base_names).to_numpy()
    n_samples = dict(n_samples or {})
    n_id = n_samples.get(id_col)

    lines: dict[str, LineFit] = {}
    skipped: dict[str, int] = {}
    skipped_models: dict[str, tuple[str, ...]] = {}
    frames: list[pd.DataFrame] = []
    x_all = values[id_col].to_numpy()
    for ood in ood_cols:
        y_all = values[ood].to_numpy()
        keep = np.isfinite(x_all) & np.isfinite(y_all)
        skipped[ood] = int((~keep).sum())
        skipped_models[ood] = tuple(models[~keep])
        fit_mask = keep & is_base
        if fit_mask.sum() < 2:
            raise RobustnessInputError(
                f"OOD column {ood!r}: only {int(fit_mask.sum())} baseline model(s) have both {id_col!r} "
                "and the OOD value; need at least 2 to fit a line"
            )
        n_ood = n_samples.get(ood)
        try:
            line = fit_line(x_all[fit_mask], y_all[fit_mask], transform, units=units, n_id=n_id, n_ood=n_ood)
        except ValueError as err:
            raise RobustnessInputError(f"OOD column {ood!r}: {err}") from err
        lines[ood] = line
        x, y = x_all[keep], y_all[keep]
        er, er_t = effective_robustness(line, x, y, n_id=n_id, n_ood=n_ood)
        id_lo, id_hi = accuracy_interval(x, np.nan if n_id is None else n_id, units=units)
        ood_lo, ood_hi = accuracy_interval(y, np.nan if n_ood is None else n_ood, units=units)
        frames.append(
            pd.DataFrame(
                {
                    "model": models[keep].to_numpy(),
                    "ood": ood,
                    "id_acc": x,
                    "ood_acc": y,
                    "predicted_ood_acc": line.predict(x, n_id),
                    "effective_robustness": er,
                    "er_transformed": er_t,
                    "clipped": clipped_points(line, x, y, n_id=n_id, n_ood=n_ood),
                    "baseline": is_base[keep],
                    "id_ci_low": id_lo,
                    "id_ci_high": id_hi,
                    "ood_ci_low": ood_lo,
                    "ood_ci_high": ood_hi,
                }
            )
        )
    effective = pd.concat(frames, ignore_index=True)
    return RobustnessReport(
        lines=lines,
        effective=effective,
        skipped=skipped,
        units=units,
        id_col=id_col,
        transform=get_transform(transform).name,  # type: ignore[arg-type]
        baseline=base_names,
        skipped_models=skipped_models,
        n_samples={k: int(v) for k, v in n_samples.items()},
    )
