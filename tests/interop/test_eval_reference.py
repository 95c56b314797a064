"""An independent NumPy (float64) reference for the Llama-family forward pass
and the sliding-window perplexity, written from the Hugging Face model
definitions' documented behaviour, plus builders of small random-weight
Hugging Face model directories (config.json + model.safetensors written with
the `safetensors` library). Used by test_eval_numerics.py and test_eval_cli.py;
holds no tests itself.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
from safetensors import serialize_file

# ---------------------------------------------------------------------------
# Reference forward pass


def inverse_frequencies(cfg: dict) -> np.ndarray:
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    scaling = cfg.get("rope_scaling")
    if not scaling:
        return inv
    kind = scaling.get("rope_type", scaling.get("type"))
    if kind == "linear":
        return inv / scaling["factor"]
    if kind == "llama3":
        factor = scaling["factor"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        old = scaling["original_max_position_embeddings"]
        out = []
        for f in inv:
            wavelen = 2 * math.pi / f
            if wavelen < old / high:  # high frequency: unchanged
                out.append(f)
            elif wavelen > old / low:  # low frequency: slowed by the factor
                out.append(f / factor)
            else:  # in between: linear blend of the two in 1/wavelength
                smooth = (old / wavelen - low) / (high - low)
                out.append((1 - smooth) * f / factor + smooth * f)
        return np.array(out)
    raise ValueError(kind)


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rotate(x: np.ndarray, positions: np.ndarray, inv: np.ndarray) -> np.ndarray:
    """RoPE in the rotate_half layout: element i pairs with i + head_dim/2. x: [T, H, D]."""
    angles = positions[:, None].astype(np.float64) * inv[None, :]
    cos = np.concatenate([np.cos(angles)] * 2, axis=-1)[:, None, :]
    sin = np.concatenate([np.sin(angles)] * 2, axis=-1)[:, None, :]
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def forward(cfg: dict, w: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """Logits [len(ids), vocab] for tokens at positions 0..len(ids)-1."""
    heads = cfg["num_attention_heads"]
    kv_heads = cfg.get("num_key_value_heads", heads)
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // heads
    eps = cfg.get("rms_norm_eps", 1e-6)
    window = cfg.get("sliding_window") if cfg["model_type"] == "mistral" else None
    inv = inverse_frequencies(cfg)
    n = len(ids)
    positions = np.arange(n)
    mask = positions[None, :] <= positions[:, None]
    if window:
        mask &= positions[:, None] - positions[None, :] < window
    x = w["model.embed_tokens.weight"][ids]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."

        def linear(name, h):
            out = h @ w[p + name + ".weight"].T
            bias = w.get(p + name + ".bias")
            return out if bias is None else out + bias

        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = rotate(linear("self_attn.q_proj", h).reshape(n, heads, head_dim), positions, inv)
        k = rotate(linear("self_attn.k_proj", h).reshape(n, kv_heads, head_dim), positions, inv)
        v = linear("self_attn.v_proj", h).reshape(n, kv_heads, head_dim)
        k = np.repeat(k, heads // kv_heads, axis=1)  # query head i uses key/value head i // group
        v = np.repeat(v, heads // kv_heads, axis=1)
        scores = np.einsum("thd,shd->hts", q, k) / math.sqrt(head_dim)
        scores = np.where(mask[None], scores, -np.inf)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        attended = np.einsum("hts,shd->thd", scores, v).reshape(n, heads * head_dim)
        x = x + linear("self_attn.o_proj", attended)
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = linear("mlp.gate_proj", h)
        x = x + linear("mlp.down_proj", gate / (1 + np.exp(-gate)) * linear("mlp.up_proj", h))
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight")
    if head is None or cfg.get("tie_word_embeddings"):
        head = w["model.embed_tokens.weight"]
    return x @ head.T


def log_softmax(logits: np.ndarray) -> np.ndarray:
    m = logits.max(axis=-1, keepdims=True)
    return logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))


def sliding_perplexity(cfg: dict, w: dict, ids: list[int], window: int, stride: int) -> tuple[float, int]:
    """Windows start every `stride` tokens, are `window` long, the last ends at
    the last token; each token is scored once, in the first window holding it
    and a token before it. Returns (perplexity, tokens scored)."""
    scored: set[int] = set()
    total = 0.0
    begin = 0
    while True:
        end = min(begin + window, len(ids))
        logp = log_softmax(forward(cfg, w, ids[begin:end]))
        for j in range(begin + 1, end):
            if j not in scored:
                scored.add(j)
                total -= logp[j - 1 - begin, ids[j]]
        if end == len(ids):
            break
        begin += stride
    return math.exp(total / len(scored)), len(scored)


# ---------------------------------------------------------------------------
# Model directories


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16_bits(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def random_weights(cfg: dict, seed: int) -> dict[str, np.ndarray]:
    """float32 weights scaled so that activations and logits stay O(1)."""
    rng = np.random.default_rng(seed)
    hidden, inter, vocab = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    heads = cfg["num_attention_heads"]
    kv_heads = cfg.get("num_key_value_heads", heads)
    head_dim = cfg.get("head_dim") or hidden // heads
    q_dim, kv_dim = heads * head_dim, kv_heads * head_dim

    def mat(rows, cols):
        return rng.normal(0, 1 / math.sqrt(cols), (rows, cols)).astype(np.float32)

    def vec(n, centre=0.0, spread=0.1):
        return (centre + rng.normal(0, spread, n)).astype(np.float32)

    w = {"model.embed_tokens.weight": rng.normal(0, 1, (vocab, hidden)).astype(np.float32),
         "model.norm.weight": vec(hidden, 1.0)}
    if not cfg.get("tie_word_embeddings"):
        w["lm_head.weight"] = mat(vocab, hidden) * 2
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        w[p + "input_layernorm.weight"] = vec(hidden, 1.0)
        w[p + "post_attention_layernorm.weight"] = vec(hidden, 1.0)
        w[p + "self_attn.q_proj.weight"] = mat(q_dim, hidden) * 2
        w[p + "self_attn.k_proj.weight"] = mat(kv_dim, hidden) * 2
        w[p + "self_attn.v_proj.weight"] = mat(kv_dim, hidden)
        w[p + "self_attn.o_proj.weight"] = mat(hidden, q_dim)
        w[p + "mlp.gate_proj.weight"] = mat(inter, hidden)
        w[p + "mlp.up_proj.weight"] = mat(inter, hidden)
        w[p + "mlp.down_proj.weight"] = mat(hidden, inter)
        if qkv_bias:
            w[p + "self_attn.q_proj.bias"] = vec(q_dim, spread=0.5)
            w[p + "self_attn.k_proj.bias"] = vec(kv_dim, spread=0.5)
            w[p + "self_attn.v_proj.bias"] = vec(kv_dim, spread=0.5)
        if cfg.get("attention_bias"):
            w[p + "self_attn.o_proj.bias"] = vec(hidden, spread=0.5)
        if cfg.get("mlp_bias"):
            w[p + "mlp.gate_proj.bias"] = vec(inter, spread=0.5)
            w[p + "mlp.up_proj.bias"] = vec(inter, spread=0.5)
            w[p + "mlp.down_proj.bias"] = vec(hidden, spread=0.5)
    return w


def write_model(directory: Path, cfg: dict, weights: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """Writes config.json and model.safetensors (dtype "F32", "F16" or "BF16")
    with Hugging Face's safetensors library; returns the stored values as
    float64, which is what the reference computes with."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(cfg, indent=2))
    tensors, stored = {}, {}
    for name, value in weights.items():
        if dtype == "BF16":
            bits = to_bf16_bits(value)
            tensors[name] = {"dtype": "bfloat16", "shape": list(value.shape), "data": bits.tobytes()}
            stored[name] = from_bf16_bits(bits).astype(np.float64)
        else:
            np_type = {"F32": np.float32, "F16": np.float16}[dtype]
            cast = value.astype(np_type)
            tensors[name] = {"dtype": np.dtype(np_type).name, "shape": list(value.shape), "data": cast.tobytes()}
            stored[name] = cast.astype(np.float64)
    serialize_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    return stored


def base_config(model_type: str, **overrides) -> dict:
    architecture = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"}
    cfg = {
        "architectures": [architecture[model_type]],
        "model_type": model_type,
        "vocab_size": 97,
        "hidden_size": 32,
        "intermediate_size": 72,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "max_position_embeddings": 1024,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "tie_word_embeddings": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "bfloat16",
    }
    cfg.update(overrides)
    return cfg


# The architecture variants the engine claims to support, each with the
# features it exercises.
VARIANTS = {
    # Llama 3 style: untied output layer, llama3 RoPE scaling whose three bands
    # (kept, blended, slowed) all occur at head_dim 16, BF16 weights.
    "llama3_untied_rope_scaling": (base_config(
        "llama", head_dim=16, num_attention_heads=4, num_key_value_heads=4, rope_theta=500000.0,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 64}), "BF16"),
    # Qwen2: q/k/v biases, tied embeddings (no lm_head.weight stored), F16 weights.
    "qwen2_bias_tied": (base_config(
        "qwen2", tie_word_embeddings=True, num_key_value_heads=2, rope_theta=1000000.0,
        rms_norm_eps=1e-6), "F16"),
    # Grouped-query attention: 8 query heads share 2 key/value heads; head_dim
    # given explicitly and unequal to hidden/heads; linear RoPE scaling; F32.
    "llama_gqa": (base_config(
        "llama", num_attention_heads=8, num_key_value_heads=2, head_dim=8, hidden_size=48,
        rope_scaling={"type": "linear", "factor": 2.0}), "F32"),
    # Mistral: GQA with a sliding window shorter than the sequences.
    "mistral_sliding_window": (base_config(
        "mistral", num_attention_heads=4, num_key_value_heads=1, sliding_window=7), "F32"),
    # Llama with attention_bias and mlp_bias (every projection has a bias).
    "llama_all_biases": (base_config("llama", attention_bias=True, mlp_bias=True), "F32"),
}


def build_variant(directory: Path, name: str, seed: int = 0) -> tuple[dict, dict[str, np.ndarray]]:
    cfg, dtype = VARIANTS[name]
    cfg = json.loads(json.dumps(cfg))
    stored = write_model(directory, cfg, random_weights(cfg, seed), dtype)
    return cfg, stored


# ---------------------------------------------------------------------------
# The engine, through the real command line


def cli() -> str:
    path = os.environ.get("PARAMDELTA_CLI")
    if not path:
        raise RuntimeError("set PARAMDELTA_CLI to the built paramdelta program")
    return path


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "2"))
    result = subprocess.run([cli(), *args], capture_output=True, text=True, env=env, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"paramdelta {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def engine_logits(model_dir: Path, ids: list[int], *extra: str) -> dict:
    out = run_cli("logits", "--model", str(model_dir), "--ids", ",".join(map(str, ids)), "--json", *extra)
    return json.loads(out.stdout)


def max_relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    """max|ours - reference| / max|reference|: the largest error relative to the largest logit."""
    return float(np.max(np.abs(ours - reference)) / np.max(np.abs(reference)))
