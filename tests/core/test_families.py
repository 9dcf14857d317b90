"""Families of robustness lines: membership by pattern, one line each, ER against a reference, summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from vlmrobust.core.robustness import (
    SUMMARY_COLUMNS,
    RobustnessInputError,
    fit_families,
    match_family,
)

# Probit ID values and the exact family lines: clip T(ood) = 0.8·T(id) − 0.5, vlm T(ood) = 0.9·T(id) − 0.1.
CLIP_X = np.array([0.2, 0.5, 0.8, 1.1])
VLM_X = np.array([0.0, 0.4, 0.7, 1.0, 1.3])


def _table() -> pd.DataFrame:
    names = [f"open_clip:c{i}" for i in range(4)] + [f"hf:llava-{i}" for i in range(5)] + ["timm:r50"]
    x = np.r_[CLIP_X, VLM_X, 0.6]
    y = np.r_[0.8 * CLIP_X - 0.5, 0.9 * VLM_X - 0.1, 0.2]
    return pd.DataFrame({"model": names, "val": 100 * norm.cdf(x), "v2": 100 * norm.cdf(y)})


MEMBERS = {"clip": [f"open_clip:c{i}" for i in range(4)], "vlm": [f"hf:llava-{i}" for i in range(5)]}


def test_match_family_first_match_wins_over_any_name() -> None:
    patterns = [("vlm", "hf:*llava*"), ("hf", "hf:*"), ("clip", "open_clip:*")]
    assert match_family(["hf:llava-1.5-7b"], patterns) == "vlm"
    assert match_family(["hf:Qwen2-VL"], patterns) == "hf"
    assert match_family(["ft-run-3", "open_clip:ViT-B-32@openai"], patterns) == "clip"  # by its spec
    assert match_family(["timm:resnet50"], patterns) is None
    assert match_family(["HF:llava"], patterns) is None  # case-sensitive


def test_family_lines_reference_er_and_summary_by_hand() -> None:
    rep = fit_families(_table(), "val", ["v2"], MEMBERS, n_boot=100)
    assert rep.reference_family == "clip" and rep.unmatched == ("timm:r50",)
    clip, vlm = rep.families["clip"].lines["v2"], rep.families["vlm"].lines["v2"]
    assert (clip.slope, clip.intercept, clip.r2, clip.n) == pytest.approx((0.8, -0.5, 1.0, 4), abs=1e-9)
    assert (vlm.slope, vlm.intercept, vlm.r2, vlm.n) == pytest.approx((0.9, -0.1, 1.0, 5), abs=1e-9)
    assert (vlm.id_set, vlm.ood_set) == ("val", "v2")
    ref = rep.reference.lines["v2"]
    assert (ref.slope, ref.intercept) == pytest.approx((0.8, -0.5), abs=1e-9)  # the first family's line
    eff = rep.reference.effective.set_index("model")
    assert eff.loc["timm:r50", "family"] == "" and eff.loc["hf:llava-2", "family"] == "vlm"
    # ER of the VLMs against the CLIP line: Φ(0.9x − 0.1) − Φ(0.8x − 0.5), in percentage points.
    er_vlm = 100 * (norm.cdf(0.9 * VLM_X - 0.1) - norm.cdf(0.8 * VLM_X - 0.5))
    np.testing.assert_allclose(eff.loc[MEMBERS["vlm"], "effective_robustness"], er_vlm, atol=1e-9)
    # The CLIP points lie exactly on the reference line: every resample refits it, zero-width intervals.
    np.testing.assert_allclose(eff.loc[MEMBERS["vlm"], "er_low"], er_vlm, atol=1e-9)
    np.testing.assert_allclose(eff.loc[MEMBERS["vlm"], "er_high"], er_vlm, atol=1e-9)

    s = rep.summary.set_index("family")
    assert list(rep.summary.columns) == list(SUMMARY_COLUMNS)
    assert s.loc["vlm", "mean_er"] == pytest.approx(er_vlm.mean(), abs=1e-9)
    assert s.loc["clip", "mean_er"] == pytest.approx(0.0, abs=1e-9)
    # Mean of T(ood) − T(id): clip mean(−0.2x − 0.5) = −0.63, vlm mean(−0.1x − 0.1) = −0.168.
    assert s.loc["clip", "mean_diagonal_distance"] == pytest.approx(-0.63, abs=1e-9)
    assert s.loc["vlm", "mean_diagonal_distance"] == pytest.approx(-0.168, abs=1e-9)
    assert s.closest_to_diagonal.to_dict() == {"clip": False, "vlm": True}
    assert s.loc["vlm", "n_models"] == 5 and s.loc["vlm", "slope"] == pytest.approx(0.9, abs=1e-9)


def test_reference_family_and_explicit_baseline() -> None:
    rep = fit_families(_table(), "val", ["v2"], MEMBERS, reference="vlm", n_boot=0)
    assert rep.reference.lines["v2"].slope == pytest.approx(0.9, abs=1e-9)
    assert rep.summary.set_index("family").loc["vlm", "mean_er"] == pytest.approx(0.0, abs=1e-9)
    rep = fit_families(
        _table(), "val", ["v2"], MEMBERS, baseline=[*MEMBERS["clip"][:3], "timm:r50"], n_boot=0
    )
    assert rep.reference_family is None and rep.reference.lines["v2"].n == 4


def test_family_errors_name_the_family() -> None:
    with pytest.raises(RobustnessInputError, match="in two families: 'clip' and 'x'"):
        fit_families(_table(), "val", ["v2"], {**MEMBERS, "x": ["open_clip:c0"]})
    with pytest.raises(RobustnessInputError, match=r"unknown reference family 'vlms'.*Did you mean 'vlm'"):
        fit_families(_table(), "val", ["v2"], MEMBERS, reference="vlms")
    with pytest.raises(RobustnessInputError, match="family 'solo': OOD column 'v2': only 1 baseline model"):
        fit_families(_table(), "val", ["v2"], {**MEMBERS, "solo": ["timm:r50"]})
    with pytest.raises(RobustnessInputError, match="model 'nope' is not in the table"):
        fit_families(_table(), "val", ["v2"], {"clip": ["nope"]})
    with pytest.raises(RobustnessInputError, match="not both"):
        fit_families(_table(), "val", ["v2"], MEMBERS, baseline=["timm:r50"], reference="clip")
