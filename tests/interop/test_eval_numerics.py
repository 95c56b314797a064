"""Proof of the forward pass's numerics: for small random-weight models of
every supported architecture variant, the logits printed by
`paramdelta logits` must match an independent NumPy float64 reference
(test_eval_reference.py) to a max relative error of 1e-4, defined as
max|ours - reference| / max|reference| over all positions and the whole
vocabulary, and the sliding-window perplexities must agree to 1e-5 relative.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from test_eval_reference import (VARIANTS, build_variant, engine_logits, forward, max_relative_error,
                                 sliding_perplexity)

LOGIT_TOLERANCE = 1e-4
PERPLEXITY_TOLERANCE = 1e-5


def random_ids(cfg: dict, count: int, seed: int) -> list[int]:
    return [int(i) for i in np.random.default_rng(seed).integers(0, cfg["vocab_size"], count)]


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(request.param)
    cfg, weights = build_variant(directory, request.param, seed=sorted(VARIANTS).index(request.param))
    return request.param, directory, cfg, weights


def test_logits_match_the_reference(variant):
    name, directory, cfg, weights = variant
    ids = random_ids(cfg, 40, seed=1)
    reference = forward(cfg, weights, ids)
    ours = np.array(engine_logits(directory, ids)["logits"])
    assert ours.shape == reference.shape
    error = max_relative_error(ours, reference)
    assert error <= LOGIT_TOLERANCE, f"{name}: max relative logit error {error:.3g}"
    # The comparison is meaningful only if the logits vary across positions and tokens.
    assert np.std(reference) > 0.1


def test_perplexity_matches_the_reference_with_a_sliding_window(variant):
    name, directory, cfg, weights = variant
    ids = random_ids(cfg, 30, seed=2)
    for window, stride in [(8, 3), (8, 8), (12, 5)]:
        expected, scored = sliding_perplexity(cfg, weights, ids, window, stride)
        ours = engine_logits(directory, ids, "--context", str(window), "--stride", str(stride))
        assert ours["tokens_scored"] == scored
        assert ours["perplexity"] == pytest.approx(expected, rel=PERPLEXITY_TOLERANCE), (name, window, stride)


@pytest.mark.parametrize("name", ["llama_gqa", "mistral_sliding_window"])
def test_long_sequences_across_prompt_chunks(name, tmp_path):
    """600 tokens: more than one 512-token prompt chunk and several 128-query
    attention blocks, with the sliding window reaching back across chunk borders."""
    cfg, weights = build_variant(tmp_path, name, seed=7)
    ids = random_ids(cfg, 600, seed=3)
    reference = forward(cfg, weights, ids)
    ours = engine_logits(tmp_path, ids, "--context", "1024")
    error = max_relative_error(np.array(ours["logits"]), reference)
    assert error <= LOGIT_TOLERANCE, f"{name}: max relative logit error {error:.3g}"
    expected, scored = sliding_perplexity(cfg, weights, ids, 1024, 512)
    assert ours["tokens_scored"] == scored == 599
    assert ours["perplexity"] == pytest.approx(expected, rel=PERPLEXITY_TOLERANCE)


def test_a_wrong_reference_is_detected(tmp_path):
    """The tolerance is tight enough to catch a real mistake: the reference with
    RoPE scaling dropped (a plausible bug) differs by far more than 1e-4."""
    cfg, weights = build_variant(tmp_path, "llama3_untied_rope_scaling", seed=5)
    ids = random_ids(cfg, 40, seed=4)
    ours = np.array(engine_logits(tmp_path, ids)["logits"])
    unscaled = dict(cfg, rope_scaling=None)
    assert max_relative_error(ours, forward(unscaled, weights, ids)) > 100 * LOGIT_TOLERANCE
    assert max_relative_error(ours, forward(cfg, weights, ids)) <= LOGIT_TOLERANCE


# transformers 5 writes RoPE settings under `rope_parameters`, with rope_theta
# inside, instead of `rope_scaling` beside a top-level rope_theta.
def as_rope_parameters(cfg: dict) -> dict:
    converted = dict(cfg)
    parameters = dict(converted.pop("rope_scaling", None) or {"rope_type": "default"})
    if "type" in parameters:
        parameters["rope_type"] = parameters.pop("type")
    parameters["rope_theta"] = converted.pop("rope_theta", 10000.0)
    converted["rope_parameters"] = parameters
    converted["dtype"] = converted.pop("torch_dtype")
    if converted["model_type"] == "qwen2":  # as transformers 5 saves a Qwen2 config
        layers = converted["num_hidden_layers"]
        converted.update(layer_types=["full_attention"] * layers, use_sliding_window=False, sliding_window=None,
                         max_window_layers=layers)
    return converted


@pytest.mark.parametrize("name", ["llama3_untied_rope_scaling", "llama_gqa", "qwen2_bias_tied"])
def test_rope_parameters_give_the_logits_of_the_rope_scaling_form(name, tmp_path):
    """llama3 and linear scaling, and a rope_theta of 1e6 given only inside
    rope_parameters: the same logits as the older form, and the reference's."""
    cfg, weights = build_variant(tmp_path / "scaling", name, seed=11)
    converted = as_rope_parameters(cfg)
    converted_dir = tmp_path / "parameters"
    converted_dir.mkdir()
    (converted_dir / "config.json").write_text(json.dumps(converted, indent=2))
    (converted_dir / "model.safetensors").symlink_to(tmp_path / "scaling" / "model.safetensors")
    ids = random_ids(cfg, 40, seed=12)
    older = np.array(engine_logits(tmp_path / "scaling", ids)["logits"])
    newer = np.array(engine_logits(converted_dir, ids)["logits"])
    assert np.array_equal(older, newer)
    error = max_relative_error(newer, forward(cfg, weights, ids))
    assert error <= LOGIT_TOLERANCE, f"{name}: max relative logit error {error:.3g}"
    # The settings matter: without them the logits are far from these.
    plain = dict(cfg, rope_scaling=None, rope_theta=10000.0)
    assert max_relative_error(newer, forward(plain, weights, ids)) > 100 * LOGIT_TOLERANCE
