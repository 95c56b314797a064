"""paramdelta analyze against the training script's own measurement of the
tiny family (models/tiny/training_results.json, computed with PyTorch in
float64 over the saved bf16 weights): the drift of base-v2 from base-v1
against the chat delta, and the cosine between the two chat deltas.

analyze measures a delta as stored, which is what apply adds to a new base.
An f32 delta of bf16 models stores post - base exactly, so the numbers are the
script's; the default bf16 delta stores post - base rounded to bf16 (exact
enough to rebuild the post model on its own base), a millionth off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "models" / "tiny"
RECORD = json.loads((TINY / "training_results.json").read_text())["delta_stats"]


def analyze_family(work: Path, run_paramdelta, *delta_dtype: str) -> dict:
    run_paramdelta("compute", "--base", TINY / "base-v1", "--post", TINY / "chat-v1", "-o", work / "chat-v1-delta",
                   "-q", *delta_dtype)
    run_paramdelta("compute", "--base", TINY / "base-v2", "--post", TINY / "chat-v2", "-o", work / "chat-v2-delta",
                   "-q", *delta_dtype)
    out = run_paramdelta("analyze", "--delta", work / "chat-v1-delta", "--base", TINY / "base-v1", "--new-base",
                         TINY / "base-v2", "--other-delta", work / "chat-v2-delta", "--json")
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def analysis(tmp_path_factory, run_paramdelta):
    return analyze_family(tmp_path_factory.mktemp("f32"), run_paramdelta, "--delta-dtype", "f32")


def test_the_drift_is_the_training_scripts(analysis):
    total = analysis["total"]
    assert total["delta_norm"] == pytest.approx(RECORD["norm_chat_delta_v1"], rel=1e-12)
    assert total["drift"]["norm"] == pytest.approx(RECORD["norm_base_drift"], rel=1e-12)
    assert total["drift"]["ratio"] == pytest.approx(RECORD["drift_ratio"], rel=1e-12)
    assert total["drift"]["cosine"] == pytest.approx(RECORD["cos_drift_vs_chat_delta"], rel=1e-10)


def test_the_cosine_between_the_chat_deltas_is_the_training_scripts(analysis):
    other = analysis["total"]["other_delta"]
    assert other["norm"] == pytest.approx(RECORD["norm_chat_delta_v2"], rel=1e-12)
    assert other["cosine"] == pytest.approx(RECORD["cos_chat_deltas"], rel=1e-10)


def test_every_tensor_was_compared_with_the_right_base(analysis):
    assert analysis["base_matches_manifest"] is True
    assert analysis["tensors"], "no tensors"
    for tensor in analysis["tensors"]:
        assert "notes" not in tensor, tensor["name"]
        assert tensor["drift"]["elements"] == tensor["elements"], tensor["name"]
    assert analysis["total"]["elements"] == sum(t["elements"] for t in analysis["tensors"])


def test_the_default_delta_is_within_its_rounding_of_the_script(tmp_path, run_paramdelta, analysis):
    rounded = analyze_family(tmp_path, run_paramdelta)["total"]
    assert rounded["delta_norm"] != analysis["total"]["delta_norm"]  # bf16-rounded, not the exact difference
    assert rounded["delta_norm"] == pytest.approx(RECORD["norm_chat_delta_v1"], rel=1e-5)
    assert rounded["drift"]["ratio"] == pytest.approx(RECORD["drift_ratio"], rel=1e-5)
    assert rounded["drift"]["cosine"] == pytest.approx(RECORD["cos_drift_vs_chat_delta"], rel=1e-4)
    assert rounded["other_delta"]["cosine"] == pytest.approx(RECORD["cos_chat_deltas"], rel=1e-4)
