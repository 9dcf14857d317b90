"""`vlmrobust eval` on every compositional benchmark: official-format fixtures, a tiny open_clip and a tiny LLaVA,
cells in the store under each protocol; the shipped world config; `vlmrobust agreements` on its output."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from vlmrobust.core.cli import main as vlmrobust
from vlmrobust.core.store import ResultsStore
from vlmrobust.eval.commands.agreements import build_parser
from vlmrobust.eval.commands.agreements import run_from_args as agreements

ROOT = Path(__file__).resolve().parents[2]
TINY_CLIP = {"spec": "open_clip:vlmrobust-tiny-clip", "role": "scorer", "family": "clip", "seed": 0}


def _world_config(tmp_path: Path) -> Path:
    cfg = yaml.safe_load((ROOT / "configs/eval/compositional_world_tiny.yaml").read_text())
    cfg.update(results_db=str(tmp_path / "results.db"), progress=False)
    cfg["data"]["init_args"]["world_dir"] = str(tmp_path / "world")
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_world_config_runs_as_shipped_through_the_official_format_readers(tmp_path, capsys):
    assert vlmrobust(["eval", "--config", str(_world_config(tmp_path))]) == 0
    assert "whatsup-world" in capsys.readouterr().out
    assert (tmp_path / "world/whatsup-seed0-n8-px32/controlled_world_dataset.json").is_file()
    store = ResultsStore(tmp_path / "results.db")
    cells = store.cells(protocol="captions/score")
    metrics = {s: set(g["metric"]) for s, g in cells.groupby("eval_set")}
    assert {"individual", "pair", "set_of_4", "pair_2way", "top1"} <= metrics["whatsup-world"]
    assert {"macro", "top1"} <= metrics["aro-world-relation"] and "top1" in metrics["aro-world-attribution"]
    preds = store.predictions(eval_set="whatsup-world")
    assert len(preds) == 32 and preds["extra"][0]["meta"]["relation"] in {"left", "right", "above", "below"}
    # pair accuracy recomputed by hand from the stored per-sample records
    by_group: dict[str, dict[str, bool]] = {}
    for e, ok in zip(preds["extra"], preds["correct"], strict=True):
        by_group.setdefault(e["meta"]["group"], {})[e["meta"]["relation"]] = bool(ok)
    pairs = sum(g["left"] and g["right"] for g in by_group.values()) + sum(
        g["above"] and g["below"] for g in by_group.values()
    )
    pair = cells[(cells["eval_set"] == "whatsup-world") & (cells["metric"] == "pair")]["value"].item()
    assert pair == pytest.approx(pairs / 16)


def test_agreements_bins_the_stored_pairs_by_encoder_cosine(tmp_path):
    assert vlmrobust(["eval", "--config", str(_world_config(tmp_path))]) == 0
    cfg = yaml.safe_load((ROOT / "configs/eval/agreements/world_tiny.yaml").read_text())
    cfg.update(results_db=str(tmp_path / "results.db"), out=str(tmp_path / "agreements"))
    cfg["data"]["init_args"]["world_dir"] = str(tmp_path / "world")
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(cfg))
    tables = agreements(["--config", str(tmp_path / "a.yaml")])
    pairs, bins = tables["pairs"], tables["bins"]
    assert len(pairs) == 16 and set(pairs["kind"]) == {
        "left/right",
        "above/below",
    }  # 8 object pairs x 2 kinds
    assert bins["pairs"].sum() == 16 and bins["correct"].sum() == pairs["correct"].sum()
    assert ((pairs["cosine"] > -1) & (pairs["cosine"] <= 1 + 1e-6)).all()
    for name in ("pairs.csv", "agreements.csv", "similarity.csv", "agreements.png"):
        assert (tmp_path / "agreements" / name).stat().st_size > 0
    sim = pd.read_csv(tmp_path / "agreements/similarity.csv")
    assert sim.set_index("kind").loc["left/right", "mean_cosine"] == pytest.approx(
        pairs[pairs["kind"] == "left/right"]["cosine"].mean()
    )


@pytest.mark.parametrize(
    "config", sorted((ROOT / "configs/eval/agreements").glob("*.yaml")), ids=lambda p: p.name
)
def test_every_shipped_agreements_config_parses(config):
    assert config.read_text().startswith("# vlmrobust agreements --config configs/eval/agreements/")
    cfg = build_parser().parse_args(["--config", str(config)])
    assert cfg.encoder.role == "scorer" and cfg.data.init_args.sets


def test_agreements_without_stored_predictions_is_a_clear_error(tmp_path, capsys):
    cfg = yaml.safe_load((ROOT / "configs/eval/agreements/world_tiny.yaml").read_text())
    cfg.update(results_db=str(tmp_path / "none.db"), out=str(tmp_path / "agreements"))
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(cfg))
    assert vlmrobust(["agreements", "--config", str(tmp_path / "a.yaml")]) == 2
    assert "no results store" in capsys.readouterr().err


def _fixture_sets(root: Path) -> list[dict]:
    from vlmrobust.data.aro import write_vg_attribution, write_vg_relation
    from vlmrobust.data.captions import write_blip_test, write_karpathy
    from vlmrobust.data.hard_positives import write_hard_positives
    from vlmrobust.data.mmvp import write_mmvp, write_mmvp_vlm
    from vlmrobust.data.whatsup import write_spatial, write_whatsup

    sets = []
    for subset in ("A", "B"):
        f = write_whatsup(root / f"whatsup-{subset}", subset)
        sets.append(
            {"name": f"whatsup-{subset.lower()}", "path": str(f.json_path), "image_root": str(f.image_root)}
        )
    for source in ("coco", "gqa"):
        for objects in ("one", "two"):
            f = write_spatial(root / f"{source}-{objects}", source, objects, n=3)
            sets.append(
                {
                    "name": f"{source}-spatial-{objects}",
                    "path": str(f.json_path),
                    "image_root": str(f.image_root),
                }
            )
    aro = root / "aro"
    sets.append({"name": "aro-vg-relation", "path": str(write_vg_relation(aro, n=3)), "image_root": str(aro)})
    sets.append(
        {"name": "aro-vg-attribution", "path": str(write_vg_attribution(aro, n=3)), "image_root": str(aro)}
    )
    for dataset in ("coco", "flickr30k"):
        blip = write_blip_test(root / f"blip-{dataset}", dataset, n_images=1)
        sets.append(
            {"name": f"aro-{dataset}-order", "path": str(blip.json_path), "image_root": str(blip.image_root)}
        )
    for kind in ("replace-att", "replace-rel", "swap"):
        hp = write_hard_positives(root / f"hp-{kind}", kind, n=3)
        sets.append(
            {"name": f"hard-positives-{kind}", "path": str(hp.root), "image_root": str(hp.image_root)}
        )
    mmvp = str(write_mmvp(root / "mmvp", 2))
    sets += [{"name": "mmvp", "path": mmvp}, {"name": "mmvp-fixed", "path": mmvp}]
    sets.append({"name": "mmvp-vlm", "path": str(write_mmvp_vlm(root / "mmvp_vlm", 2))})
    for dataset in ("coco", "flickr30k"):
        k = write_karpathy(root / f"karpathy-{dataset}", dataset, {"test": 3}, image_size=16)
        sets.append(
            {"name": f"{dataset}-retrieval", "path": str(k.json_path), "image_root": str(k.image_root)}
        )
    return sets


@pytest.mark.slow
def test_a_tiny_clip_and_a_tiny_llava_run_every_benchmark_into_the_store(tmp_path):
    from vlmrobust.models.tiny_hf import write_tiny_llava

    llava = write_tiny_llava(tmp_path / "llava", seed=0)
    sets = _fixture_sets(tmp_path / "data")
    cfg = {
        "run": "every-benchmark", "results_db": str(tmp_path / "results.db"), "progress": False, "batch_size": 4,
        "models": [TINY_CLIP, {"spec": f"hf:{llava}", "role": "vlm", "family": "vlm", "name": "tiny-llava"}],
        "data": {"class_path": "vlmrobust.data.datamodules.BenchmarksDataModule", "init_args": {
            "sets": sets, "order_tagger": {"class_path": "vlmrobust.data.perturb.LexiconTagger",
                                           "init_args": {"world": True}}}},
        "protocols": [{"class_path": f"vlmrobust.eval.protocols.{c}"} for c in
                      ("CaptionSelection", "Retrieval", "CaptionLikelihood", "CaptionGeneration", "VQAScore")]
        + [{"class_path": "vlmrobust.eval.protocols.CaptionGeneration", "init_args": {"decoding": "m3id"}}],
    }  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert vlmrobust(["eval", "--config", str(tmp_path / "c.yaml")]) == 0
    top1 = ResultsStore(tmp_path / "results.db").cells(metric="top1")
    done = {(m, s, p) for m, s, p in zip(top1["model"], top1["eval_set"], top1["protocol"], strict=True)}
    names = [s["name"] for s in sets]
    clip = TINY_CLIP["spec"]
    retrieval = {"coco-retrieval", "flickr30k-retrieval"}
    assert {s for m, s, p in done if m == clip and p == "captions/score"} == set(names) - retrieval
    assert {s for m, s, p in done if m == clip and p == "retrieval/score"} == retrieval
    choice_sets = set(names) - retrieval
    assert len(choice_sets) == 16  # every benchmark with options (the world's copies run in the test above)
    for protocol in ("captions/likelihood-mean", "captions/vqascore"):
        assert {s for m, s, p in done if m == "tiny-llava" and p == protocol} == choice_sets
    no_scores = {"hard-positives-replace-att", "hard-positives-replace-rel", "hard-positives-swap"}
    generated = (
        choice_sets - no_scores - {"mmvp-vlm"}
    )  # generation needs a captions set whose metrics need no scores
    for protocol in ("captions/generate", "captions/generate-m3id0.6-0.15"):
        assert {s for m, s, p in done if m == "tiny-llava" and p == protocol} == generated
    cells = ResultsStore(tmp_path / "results.db").cells(model="tiny-llava", eval_set="mmvp")
    assert "pair_relaxed" in set(cells[cells["protocol"] == "captions/likelihood-mean"]["metric"])
