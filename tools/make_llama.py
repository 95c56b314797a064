#!/usr/bin/env python3
"""Writes small deterministic Llama-shaped Hugging Face model directories.

Used by the demo (until the trained tiny model family is bundled) and by the
interoperability tests. Files are written with Hugging Face's own
`safetensors` library; bf16 values are rounded to nearest even from float32.

  make_llama.py OUT --seed 1 [--noise-from BASE_SEED --noise 0.01 --noise-seed 7]
"""
import argparse
import json
import os

import numpy as np
from safetensors import serialize_file


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def from_bf16_bits(b: np.ndarray) -> np.ndarray:
    return (b.astype(np.uint32) << 16).view(np.float32)


def llama_shapes(layers, hidden, intermediate, vocab, heads, kv_heads, tied):
    head_dim = hidden // heads
    shapes = {"model.embed_tokens.weight": (vocab, hidden)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes[p + "self_attn.q_proj.weight"] = (hidden, hidden)
        shapes[p + "self_attn.k_proj.weight"] = (kv_heads * head_dim, hidden)
        shapes[p + "self_attn.v_proj.weight"] = (kv_heads * head_dim, hidden)
        shapes[p + "self_attn.o_proj.weight"] = (hidden, hidden)
        shapes[p + "mlp.gate_proj.weight"] = (intermediate, hidden)
        shapes[p + "mlp.up_proj.weight"] = (intermediate, hidden)
        shapes[p + "mlp.down_proj.weight"] = (hidden, intermediate)
        shapes[p + "input_layernorm.weight"] = (hidden,)
        shapes[p + "post_attention_layernorm.weight"] = (hidden,)
    shapes["model.norm.weight"] = (hidden,)
    if not tied:
        shapes["lm_head.weight"] = (vocab, hidden)
    return shapes


def make_values(name, shape, seed, noise, noise_seed):
    # Deterministic per tensor: derive a stream from the seed and the tensor name.
    name_key = int.from_bytes(name.encode()[-8:].rjust(8, b"\0"), "little") ^ len(name)
    rng = np.random.default_rng([seed, name_key])
    if name.endswith("norm.weight"):
        x = 1.0 + 0.05 * rng.standard_normal(shape, dtype=np.float32)
    else:
        x = 0.02 * rng.standard_normal(shape, dtype=np.float32)
    if noise:
        nrng = np.random.default_rng([noise_seed, name_key])
        x = x + noise * np.abs(x).mean() * nrng.standard_normal(shape, dtype=np.float32)
    return x


def write_model(out, seed, layers=2, hidden=64, intermediate=128, vocab=256, heads=4, kv_heads=2, tied=False,
                noise=0.0, noise_seed=0, max_shard_bytes=0, dtype="BF16"):
    os.makedirs(out, exist_ok=True)
    shapes = llama_shapes(layers, hidden, intermediate, vocab, heads, kv_heads, tied)
    tensors = {}
    for name, shape in shapes.items():
        x = make_values(name, shape, seed, noise, noise_seed)
        if dtype == "BF16":
            data = to_bf16_bits(x).tobytes()
        elif dtype == "F16":
            data = x.astype(np.float16).tobytes()
        else:
            data = x.astype(np.float32).tobytes()
        tensors[name] = {"dtype": {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}[dtype], "shape": list(shape), "data": data}
    names = list(tensors)
    if max_shard_bytes:
        shards, current, size = [[]], 0, 0
        for n in names:
            b = len(tensors[n]["data"])
            if shards[-1] and size + b > max_shard_bytes:
                shards.append([])
                size = 0
            shards[-1].append(n)
            size += b
    else:
        shards = [names]
    weight_map = {}
    for i, group in enumerate(shards):
        fname = "model.safetensors" if len(shards) == 1 else f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        serialize_file({n: tensors[n] for n in group}, os.path.join(out, fname), metadata={"format": "pt"})
        for n in group:
            weight_map[n] = fname
    if len(shards) > 1:
        total = sum(len(t["data"]) for t in tensors.values())
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
        "intermediate_size": intermediate, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv_heads, "vocab_size": vocab, "max_position_embeddings": 256,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": tied,
        "torch_dtype": {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}[dtype],
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    return shapes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--noise", type=float, default=0.0, help="relative noise added to every tensor")
    ap.add_argument("--noise-seed", type=int, default=0)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--intermediate", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--dtype", default="BF16", choices=["BF16", "F16", "F32"])
    ap.add_argument("--max-shard-bytes", type=int, default=0)
    a = ap.parse_args()
    write_model(a.out, a.seed, a.layers, a.hidden, a.intermediate, a.vocab, tied=a.tied, noise=a.noise,
                noise_seed=a.noise_seed, max_shard_bytes=a.max_shard_bytes, dtype=a.dtype)


if __name__ == "__main__":
    main()
