#!/usr/bin/env python3
"""Trains the tiny model family (base-v1, chat-v1, base-v2, chat-v2), measures
ParamDelta on it, and writes everything into one output folder:

  OUT/base-v1, chat-v1, base-v2, chat-v2   Hugging Face model directories
  OUT/data/eval/*.jsonl, *.txt             evaluation sets (see tiny_eval.py)
  OUT/golden/                              token ids and logits for cross-checks
  OUT/results.json                         configuration, timings, scores, sweeps

One command, deterministic for a given preset, seed and steps factor:
  python3 train.py --scale tiny --device cpu --out /tmp/tiny-family

With --sweep-from FAMILY (a folder holding base-v1, chat-v1, base-v2 and
chat-v2, such as models/tiny) nothing of the family is trained again: only
drift-sweep points (--drift-points, default the preset's) are trained from
its base-v1 and chat-v1, and results.json holds the sweep, with the family's
own point first. The data cache must be the one the family was trained with.
"""

from __future__ import annotations

import os

# Must be set before CUDA starts for cuBLAS to be deterministic.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import argparse
import hashlib
import json
import math
import pickle
import platform
import random
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tiny_data as D  # noqa: E402
from tiny_eval import MAX_NEW_TOKENS, exact_match_eval, greedy_generate, perplexity  # noqa: E402
from tiny_llama import (LlamaConfig, LlamaForCausalLM, load_safetensors_f32, param_count,  # noqa: E402
                        round_state, save_safetensors, state_dict_f32)
from tiny_presets import get_preset, scale_steps  # noqa: E402
from tiny_tokenizer import encode_many, special_ids, train_tokenizer, write_tokenizer_files  # noqa: E402

T0 = time.time()


def log(msg: str) -> None:
    print(f"[{time.time() - T0:7.1f}s] {msg}", flush=True)


class Timer:
    def __init__(self, timings: Dict[str, float], name: str):
        self.timings, self.name = timings, name

    def __enter__(self):
        self.t = time.time()
        log(f"-- {self.name}")
        return self

    def __exit__(self, *exc):
        dt = time.time() - self.t
        self.timings[self.name] = round(self.timings.get(self.name, 0.0) + dt, 2)
        log(f"-- {self.name} done in {dt:.1f}s")


# ---------------------------------------------------------------- data streams


class Corpus:
    """Generates and tokenizes the pre-training streams."""

    def __init__(self, tok, world_a: D.World, world_b: D.World, wcfg: dict, seed: int):
        self.tok, self.a, self.b, self.wcfg, self.seed = tok, world_a, world_b, wcfg, seed
        self.eot = tok.token_to_id(D.EOT)

    def _docs(self, rng: random.Random, round_fn: Callable[[], List[str]], n_tokens: int):
        """Whole documents (ids + <|endoftext|>) until n_tokens are reached."""
        docs, total, rounds = [], 0, 0
        while total < n_tokens:
            texts = round_fn()
            rounds += 1
            for ids in encode_many(self.tok, texts):
                arr = np.asarray(ids + [self.eot], dtype=np.int32)
                docs.append(arr)
                total += len(arr)
                if total >= n_tokens:
                    break
        return docs, rounds

    def old_round(self, rng):
        return lambda: D.old_corpus_round(rng, self.a, self.wcfg["qa_per_person"],
                                          self.wcfg["word_games_per_bio"])

    def new_round(self, rng):
        return lambda: D.new_corpus_round(rng, self.b, self.wcfg["qa_per_person"])

    def base_v1_stream(self, n_tokens: int):
        rng = random.Random(self.seed * 1000 + 11)
        docs, rounds = self._docs(rng, self.old_round(rng), n_tokens)
        return np.concatenate(docs), {"old_rounds": rounds}

    def base_v2_stream(self, n_tokens: int, replay: float):
        rng_new = random.Random(self.seed * 1000 + 21)
        rng_old = random.Random(self.seed * 1000 + 22)  # fresh wordings of the old data
        n_old = int(n_tokens * replay)
        new_docs, new_rounds = self._docs(rng_new, self.new_round(rng_new), n_tokens - n_old)
        old_docs, old_rounds = self._docs(rng_old, self.old_round(rng_old), n_old) if n_old else ([], 0)
        docs = new_docs + old_docs
        random.Random(self.seed * 1000 + 23).shuffle(docs)
        return np.concatenate(docs), {"new_rounds": new_rounds, "old_rounds": old_rounds}


def window_batches(stream: np.ndarray, seq_len: int, batch: int, steps: int, seed: int, device):
    """Non-overlapping windows of seq_len+1 tokens in a seeded random order."""
    n = len(stream) // (seq_len + 1)
    windows = torch.from_numpy(stream[: n * (seq_len + 1)].astype(np.int64)).view(n, seq_len + 1)
    windows = windows.to(device)
    g = torch.Generator().manual_seed(seed)
    need = steps * batch
    order = torch.cat([torch.randperm(n, generator=g) for _ in range(math.ceil(need / n))])[:need]
    order = order.to(device)
    for s in range(steps):
        w = windows[order[s * batch:(s + 1) * batch]]
        yield w[:, :-1], w[:, 1:]


def chat_tensors(tok, examples, pad_id: int):
    """Prompt (chat template) + answer + <|end|>; the loss sees only the answer part."""
    prompts = encode_many(tok, [D.render_chat_prompt(m) for _, m, _ in examples])
    answers = encode_many(tok, [a + D.END for _, _, a in examples])
    lengths = [len(p) + len(a) for p, a in zip(prompts, answers)]
    longest = max(lengths)
    ids = torch.full((len(examples), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), longest), -100, dtype=torch.long)
    for i, (p, a) in enumerate(zip(prompts, answers)):
        ids[i, :len(p) + len(a)] = torch.tensor(p + a)
        labels[i, len(p):len(p) + len(a)] = torch.tensor(a)
    # Predict token t+1 from tokens <= t.
    return ids[:, :-1].contiguous(), labels[:, 1:].contiguous(), torch.tensor(lengths) - 1


def chat_batches(ids, labels, lengths, batch: int, steps: int, seed: int, device):
    ids, labels = ids.to(device), labels.to(device)
    g = torch.Generator().manual_seed(seed)
    n = ids.shape[0]
    need = steps * batch
    order = torch.cat([torch.randperm(n, generator=g) for _ in range(math.ceil(need / n))])[:need]
    for s in range(steps):
        idx = order[s * batch:(s + 1) * batch]
        t = int(lengths[idx].max())
        idx = idx.to(device)
        yield ids[idx, :t], labels[idx, :t]


# ---------------------------------------------------------------- training


def make_optimizer(model, lr: float, p: dict):
    decay, no_decay = [], []
    for name, prm in model.named_parameters():
        (decay if prm.ndim == 2 and "embed_tokens" not in name else no_decay).append(prm)
    groups = [{"params": decay, "weight_decay": p["weight_decay"]},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(p["betas"]), eps=1e-8)


def lr_at(step: int, steps: int, peak: float, warmup: int, min_frac: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * progress)))


def train(model, batches, steps: int, lr: float, warmup: int, p: dict, label: str) -> dict:
    model.train()
    opt = make_optimizer(model, lr, p)
    log_every = max(1, steps // 10)
    running = []
    history = []
    t = time.time()
    for step, (x, y) in enumerate(batches):
        cur = lr_at(step, steps, lr, warmup, p["min_lr_frac"])
        for g in opt.param_groups:
            g["lr"] = cur
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), p["grad_clip"])
        opt.step()
        running.append(loss.detach())
        if (step + 1) % log_every == 0 or step + 1 == steps:
            mean = float(torch.stack(running).mean())
            running = []
            history.append([step + 1, round(mean, 4)])
            log(f"{label} step {step + 1}/{steps} loss {mean:.4f} lr {cur:.2e} "
                f"({(time.time() - t) / (step + 1) * 1000:.1f} ms/step)")
    model.eval()
    return {"loss_history": history, "final_loss": history[-1][1] if history else None,
            "seconds": round(time.time() - t, 2)}


# ---------------------------------------------------------------- model files


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model_dir(out: Path, state: Dict[str, torch.Tensor], mcfg: LlamaConfig, tok, ids: dict,
                   dtype_name: str) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    dtype = getattr(torch, dtype_name)
    save_safetensors(state, out / "model.safetensors", dtype)
    hf = mcfg.hf_config(bos_token_id=ids[D.EOT], eos_token_id=ids[D.END], pad_token_id=ids[D.EOT],
                        torch_dtype=dtype_name)
    (out / "config.json").write_text(json.dumps(hf, indent=2) + "\n")
    gen = {"bos_token_id": ids[D.EOT], "eos_token_id": [ids[D.END], ids[D.EOT]],
           "pad_token_id": ids[D.EOT], "do_sample": False}
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n")
    write_tokenizer_files(tok, out, mcfg.max_position_embeddings)
    f = out / "model.safetensors"
    return {"bytes": f.stat().st_size, "sha256": sha256(f)}


def model_from_state(mcfg: LlamaConfig, state, device) -> LlamaForCausalLM:
    m = LlamaForCausalLM(mcfg)
    m.load_state_dict(state)
    return m.to(device).eval()


def paramdelta(base_new, post_old, base_old, alpha: float, dtype) -> Dict[str, torch.Tensor]:
    """base_new + alpha * (post_old - base_old), summed in float32 and stored
    in the checkpoint dtype, as a merged checkpoint on disk would be."""
    return round_state({k: base_new[k] + alpha * (post_old[k] - base_old[k]) for k in base_new}, dtype)


def delta_stats(base_old, post_old, base_new, post_new) -> dict:
    def flat(a, b):
        return torch.cat([(a[k].double() - b[k].double()).flatten() for k in sorted(a)])
    chat_old = flat(post_old, base_old)
    chat_new = flat(post_new, base_new)
    drift = flat(base_new, base_old)
    return {
        "norm_chat_delta_v1": float(chat_old.norm()),
        "norm_chat_delta_v2": float(chat_new.norm()),
        "norm_base_drift": float(drift.norm()),
        "drift_ratio": float(drift.norm() / chat_old.norm()),
        "cos_chat_deltas": float(torch.dot(chat_old, chat_new) / (chat_old.norm() * chat_new.norm())),
        "cos_drift_vs_chat_delta": float(torch.dot(chat_old, drift) / (chat_old.norm() * drift.norm())),
    }


# ---------------------------------------------------------------- main pipeline


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda but CUDA is not available")
    return torch.device(name)


def versions(device) -> dict:
    v = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
         "platform": platform.platform()}
    for mod in ("tokenizers", "safetensors", "transformers"):
        try:
            v[mod] = __import__(mod).__version__
        except Exception:
            v[mod] = None
    if device.type == "cuda":
        v["gpu"] = torch.cuda.get_device_name(device)
        v["cuda"] = torch.version.cuda
    return v


CHAT_PROBE_LEN = 48  # about the longest chat example, in tokens


def estimate_seconds(p: dict, speed: dict) -> float:
    """Training time of every stage (the drift sweep included) from measured
    seconds per step, with a 25% margin for logging and evaluation."""
    v2_steps = p["base_v2"]["steps"] * (1 + sum(s.get("steps_mult", 1.0) for s in p["drift_sweep"]))
    chats = 2 + len(p["drift_sweep"])
    return 1.25 * (p["base_v1"]["steps"] * speed["pretrain_step_s"]
                   + v2_steps * speed["pretrain_step_s"]
                   + chats * p["chat"]["steps"] * speed["chat_step_s"])


def probe_speed(p: dict, device) -> dict:
    """Seconds per training step of the real model on this device, at the
    pre-training and the post-training batch shapes."""
    mcfg = LlamaConfig(**p["model"])
    m = LlamaForCausalLM(mcfg)
    m.init_weights(torch.Generator().manual_seed(0))
    m = m.to(device)
    opt = make_optimizer(m, 1e-4, p)
    g = torch.Generator().manual_seed(0)

    def timed(b: int, t: int, n: int) -> float:
        x = torch.randint(0, mcfg.vocab_size, (b, t + 1), generator=g).to(device)

        def step():
            logits = m(x[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()

        for _ in range(3):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.time()
        for _ in range(n):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return (time.time() - t0) / n

    n = 20 if device.type == "cuda" else 3
    return {"pretrain_step_s": timed(p["base_v1"]["batch"], p["seq_len"], n),
            "chat_step_s": timed(p["chat"]["batch"], CHAT_PROBE_LEN, n)}


def make_data(p: dict, seed: int):
    """Worlds, tokenizer, post-training examples and evaluation sets (pure
    Python and the tokenizers library; the slow part of a run on a fast GPU)."""
    w = p["worlds"]
    world_a = D.make_world(random.Random(seed * 1000 + 1), w["n_old"], D.LAST_NAMES_OLD)
    world_b = D.make_world(random.Random(seed * 1000 + 2), w["n_new"], D.LAST_NAMES_NEW)
    # The tokenizer learns from the old world and the chat task only, like
    # a tokenizer fixed before the new data existed.
    rng = random.Random(seed * 1000 + 3)
    tok_texts: List[str] = []
    while len(tok_texts) < p["tokenizer_docs"]:
        tok_texts += D.old_corpus_round(rng, world_a, w["qa_per_person"], w["word_games_per_bio"])
    tok_texts = tok_texts[: p["tokenizer_docs"]]
    tok_texts += [D.render_chat_prompt(m) + a + D.END
                  for _, m, a in (D.chat_example(rng, world_a, 0.5) for _ in range(p["tokenizer_docs"] // 4))]
    tok = train_tokenizer(tok_texts, p["model"]["vocab_size"])

    # Post-training data: the same examples, in the same order, for every chat model.
    crng = random.Random(seed * 1000 + 4)
    n_chat = p["chat"]["steps"] * p["chat"]["batch"]
    chat_examples = [D.chat_example(crng, world_a, p["chat"]["instruction_frac"]) for _ in range(n_chat)]
    train_msgs = {m for _, m, _ in chat_examples}

    erng = random.Random(seed * 1000 + 5)
    e = p["eval"]
    evalsets = {
        "instruct": D.instruction_eval(erng, e["n_instruct"], train_msgs),
        "knowledge_new": D.knowledge_eval(erng, world_b.held_people, e["n_knowledge"]),
        "knowledge_old": D.knowledge_eval(erng, world_a.held_people, e["n_knowledge"]),
    }
    # Diagnostics, not written as files: people whose facts were also seen
    # as plain-text Q/A (world B) or in post-training (world A).
    diag = {
        "knowledge_new_qa_seen": D.knowledge_eval(erng, world_b.qa_people, e["n_knowledge"]),
        "knowledge_old_post_trained": D.knowledge_eval(erng, world_a.qa_people, e["n_knowledge"]),
    }
    prng = random.Random(seed * 1000 + 6)
    ppl_old = "\n".join(D.old_corpus_round(prng, world_a, w["qa_per_person"], w["word_games_per_bio"])
                        [: e["ppl_docs"]])
    ppl_new = "\n".join(D.new_corpus_round(prng, world_b, w["qa_per_person"])[: e["ppl_docs"]])
    return world_a, world_b, tok, chat_examples, evalsets, diag, ppl_old, ppl_new


def load_data_cache(path: Optional[Path], key: dict) -> Optional[dict]:
    """The data a --prepare-data run saved, if it was made for this preset,
    seed and steps factor (the streams' lengths depend on all three)."""
    if path is None or not path.exists():
        return None
    with open(path, "rb") as f:
        cached = pickle.load(f)
    if cached.get("key") != key:
        raise SystemExit(f"{path} was prepared for {cached.get('key')}, not {key}; prepare it again")
    cached["streams"] = {k: (np.frombuffer(raw, dtype=np.uint16), info) for k, (raw, info) in cached["streams"].items()}
    return cached


def save_data_cache(path: Path, key: dict, world_a, world_b, tok, chat_examples, evalsets, diag,
                    ppl_old, ppl_new, streams: dict) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        pickle.dump({"key": key, "world_a": world_a, "world_b": world_b, "tokenizer": tok.to_str(),
                     "chat_examples": chat_examples, "evalsets": evalsets, "diag": diag,
                     "ppl_old": ppl_old, "ppl_new": ppl_new,
                     # raw bytes, not numpy objects: the GPU machine may run another numpy
                     "streams": {k: (arr.astype(np.uint16).tobytes(), info) for k, (arr, info) in streams.items()}},
                    f, protocol=4)
    os.replace(tmp, path)


def parse_drift_points(text: str) -> List[dict]:
    """'0.3;0.1;1,0.5,0.25' -> [{lr_mult, steps_mult, replay}, ...] (steps_mult 1, replay 0.5 by default)."""
    points = []
    for part in text.split(";"):
        fields = [f.strip() for f in part.split(",")]
        if not 1 <= len(fields) <= 3 or not all(fields):
            raise argparse.ArgumentTypeError(f"drift point {part!r}: expected LR_MULT[,STEPS_MULT[,REPLAY]]")
        try:
            values = [float(f) for f in fields] + [1.0, 0.5][len(fields) - 1:]
        except ValueError:
            raise argparse.ArgumentTypeError(f"drift point {part!r}: not numbers") from None
        lr_mult, steps_mult, replay = values
        if lr_mult <= 0 or steps_mult <= 0 or not 0 <= replay < 1:
            raise argparse.ArgumentTypeError(f"drift point {part!r}: need LR_MULT > 0, STEPS_MULT > 0, "
                                             f"0 <= REPLAY < 1")
        points.append({"lr_mult": lr_mult, "steps_mult": steps_mult, "replay": replay})
    return points


def load_family_state(model_dir: Path, tok, mcfg: LlamaConfig, dtype) -> Dict[str, torch.Tensor]:
    """A saved family member's weights (float32 holding the stored values), after
    checking that it was made with this data's tokenizer and this preset's shapes."""
    saved = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    if saved.get_vocab() != tok.get_vocab():
        raise SystemExit(f"{model_dir}: its tokenizer is not the one of this data (use the family's data cache)")
    cfg = LlamaConfig.from_hf_config(json.loads((model_dir / "config.json").read_text()))
    if cfg != mcfg:
        raise SystemExit(f"{model_dir}: config.json describes {cfg}, the preset {mcfg}")
    state = load_safetensors_f32(model_dir / "model.safetensors")
    # The family was saved in the checkpoint dtype, so rounding changes nothing;
    # it only makes a family saved in another dtype fail loudly below.
    rounded = round_state(state, dtype)
    if any(not torch.equal(rounded[k], state[k]) for k in state):
        raise SystemExit(f"{model_dir}: weights are not {dtype} values")
    return state


def print_drift(drift: List[dict]) -> None:
    print("drift sweep:")
    for row in drift:
        print("  ", json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}))


def write_jsonl(path: Path, items: List[dict]) -> None:
    with open(path, "w") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="tiny", help="preset: tiny, small or full")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--out", required=True, type=Path, help="output folder (created; must be empty or absent)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch CPU threads (0: half the cores; more threads than free cores is much slower)")
    ap.add_argument("--steps-factor", type=float, default=None,
                    help="shorten every training stage by this factor (default 1, or chosen by --budget-s)")
    ap.add_argument("--budget-s", type=float, default=None,
                    help="measure speed first and pick the largest steps factor among 1, 0.75, 0.5, 0.35 "
                         "whose estimated training time fits")
    ap.add_argument("--deadline-s", type=float, default=None,
                    help="skip drift-sweep points that would end after this many seconds from start")
    ap.add_argument("--no-tf32", action="store_true", help="train in strict float32 on CUDA")
    ap.add_argument("--skip-sweep", action="store_true")
    ap.add_argument("--data-cache", type=Path, default=None,
                    help="pickle with the generated data, tokenizer and token streams: read if it exists, "
                         "else written (data generation is single-threaded Python; prepare it on a CPU "
                         "machine and carry it to the GPU one)")
    ap.add_argument("--prepare-data", action="store_true",
                    help="only generate the data (and write --data-cache), then stop")
    ap.add_argument("--sweep-from", type=Path, default=None,
                    help="train only drift-sweep points, from this family's base-v1 and chat-v1")
    ap.add_argument("--drift-points", type=parse_drift_points, default=None,
                    help="drift-sweep points 'LR_MULT[,STEPS_MULT[,REPLAY]]' separated by ';' "
                         "(default: the preset's), e.g. '0.3;0.1;1,0.5'")
    args = ap.parse_args()

    out: Path = args.out
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)

    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // 2))
    torch.use_deterministic_algorithms(True, warn_only=True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
    tf32 = device.type == "cuda" and not args.no_tf32

    p = get_preset(args.scale)
    timings: Dict[str, float] = {}
    results: dict = {"versions": versions(device), "device": str(device), "seed": args.seed,
                     "tf32_training": tf32, "timings_s": timings,
                     "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:])}

    def set_tf32(on: bool):
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = on
            torch.backends.cudnn.allow_tf32 = on

    # ---- fit the run to the budget, before anything is trained
    factor = args.steps_factor
    if factor is None and args.budget_s:
        with Timer(timings, "speed_probe"):
            set_tf32(tf32)
            speed = probe_speed(p, device)
            set_tf32(False)
        factors = (1.0, 0.75, 0.5, 0.35)
        estimates = {f: estimate_seconds(scale_steps(p, f), speed) for f in factors}
        factor = next((f for f in factors if estimates[f] <= args.budget_s), factors[-1])
        results["auto_fit"] = {"speed": speed, "budget_s": args.budget_s,
                               "estimates_s": {str(f): round(v, 1) for f, v in estimates.items()},
                               "chosen_steps_factor": factor}
        log(f"speed probe: {speed['pretrain_step_s'] * 1e3:.1f} ms per pre-training step, "
            f"{speed['chat_step_s'] * 1e3:.1f} ms per chat step; steps factor {factor} "
            f"(estimated training seconds {results['auto_fit']['estimates_s']})")
    factor = 1.0 if factor is None else factor
    p = scale_steps(p, factor)
    if args.drift_points is not None:
        p["drift_sweep"] = args.drift_points
    results["config"] = p
    log(f"preset {p['name']} on {device}, seed {args.seed}, steps factor {factor}")

    def save_results():
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    # ---- worlds, tokenizer, evaluation sets
    with Timer(timings, "data_and_tokenizer"):
        w = p["worlds"]
        cache_key = {"preset": p["name"], "seed": args.seed, "steps_factor": factor}
        cached = load_data_cache(args.data_cache, cache_key) if args.data_cache else None
        if cached is not None:
            log(f"data and tokenizer from {args.data_cache}")
            world_a, world_b = cached["world_a"], cached["world_b"]
            tok = Tokenizer.from_str(cached["tokenizer"])
            chat_examples, evalsets, diag = cached["chat_examples"], cached["evalsets"], cached["diag"]
            ppl_old, ppl_new = cached["ppl_old"], cached["ppl_new"]
        else:
            world_a, world_b, tok, chat_examples, evalsets, diag, ppl_old, ppl_new = make_data(p, args.seed)
        ids = special_ids(tok)
        if tok.get_vocab_size() != p["model"]["vocab_size"]:
            log(f"note: tokenizer vocabulary is {tok.get_vocab_size()} (asked {p['model']['vocab_size']})")
            p["model"]["vocab_size"] = tok.get_vocab_size()
        mcfg = LlamaConfig(**p["model"])
        n_chat = len(chat_examples)
        chat_ids, chat_labels, chat_lengths = chat_tensors(tok, chat_examples, ids[D.EOT])
        train_msgs = {m for _, m, _ in chat_examples}

        ddir = out / "data"
        (ddir / "eval").mkdir(parents=True)
        for name, items in evalsets.items():
            write_jsonl(ddir / "eval" / f"{name}.jsonl", items)
            write_jsonl(ddir / "eval" / f"{name}_chat.jsonl", D.chat_variant(items))
        (ddir / "eval" / "ppl_old.txt").write_text(ppl_old + "\n")
        (ddir / "eval" / "ppl_new.txt").write_text(ppl_new + "\n")
        for fname, world in (("world_old.jsonl", world_a), ("world_new.jsonl", world_b)):
            qa_names = {q.name for q in world.qa_people}
            write_jsonl(ddir / fname, [{"name": q.name, **dict(q.facts), "qa_in_pretraining": q.name in qa_names}
                                       for q in world.people])
        (ddir / "eval" / "conventions.json").write_text(json.dumps({
            "generation": "greedy; prompt encoded as is, no special tokens added; stop at <|end|> or "
                          "<|endoftext|>; decode without special tokens; exact match after trimming",
            "max_new_tokens": MAX_NEW_TOKENS,
            "perplexity": "whole file encoded without special tokens, consecutive windows of "
                          "max_position_embeddings tokens, every token but each window's first predicted",
            "window": mcfg.max_position_embeddings,
        }, indent=2) + "\n")

        ppl_ids = {"ppl_old": tok.encode(ppl_old + "\n", add_special_tokens=False).ids,
                   "ppl_new": tok.encode(ppl_new + "\n", add_special_tokens=False).ids}
        corpus = Corpus(tok, world_a, world_b, w, args.seed)
        results["data"] = {
            "vocab_size": tok.get_vocab_size(), "special_token_ids": ids,
            "chat_examples": n_chat, "chat_distinct_messages": len(train_msgs),
            "eval_sizes": {k: len(v) for k, v in evalsets.items()},
            "ppl_tokens": {k: len(v) for k, v in ppl_ids.items()},
        }
        log(f"vocab {tok.get_vocab_size()}, special ids {ids}, chat examples {n_chat}")

    # Pre-training token streams, keyed by stage (and, for base-v2, by steps
    # and replay share); taken from the data cache when it has them.
    streams: dict = dict(cached["streams"]) if cached is not None else {}

    def v1_stream():
        if "v1" not in streams:
            s1 = p["base_v1"]
            arr, info = corpus.base_v1_stream(
                s1["steps"] * s1["batch"] * (p["seq_len"] + 1) // p["data_epochs"]["base_v1"])
            streams["v1"] = (arr.astype(np.uint16), info)
        arr, info = streams["v1"]
        return arr.astype(np.int32), info

    def v2_stream(steps: int, replay: float):
        key = ("v2", steps, replay)
        if key not in streams:
            s = p["base_v2"]
            arr, info = corpus.base_v2_stream(
                steps * s["batch"] * (p["seq_len"] + 1) // p["data_epochs"]["base_v2"], replay)
            streams[key] = (arr.astype(np.uint16), info)
        arr, info = streams[key]
        return arr.astype(np.int32), info

    def sweep_steps(pt: dict) -> int:
        return max(10, int(round(p["base_v2"]["steps"] * pt.get("steps_mult", 1.0))))

    if args.prepare_data:
        assert tok.get_vocab_size() <= 65536, "streams are stored as uint16"
        with Timer(timings, "streams"):
            v1_stream()
            v2_stream(p["base_v2"]["steps"], p["base_v2"]["replay"])
            for pt in p["drift_sweep"]:
                v2_stream(sweep_steps(pt), pt["replay"])
        if args.data_cache:
            save_data_cache(args.data_cache, cache_key, world_a, world_b, tok, chat_examples, evalsets, diag,
                            ppl_old, ppl_new, streams)
            log(f"data cache written: {args.data_cache} ({args.data_cache.stat().st_size / 1e6:.1f} MB)")
        save_results()
        return

    dtype = getattr(torch, p["save_dtype"])
    states: Dict[str, Dict[str, torch.Tensor]] = {}
    results["models"] = {}

    def pretrain(init_state, stream, stage: dict, lr: float, order_seed: int, label: str):
        set_tf32(tf32)
        m = LlamaForCausalLM(mcfg)
        if init_state is None:
            m.init_weights(torch.Generator().manual_seed(args.seed * 1000 + 7))
        else:
            m.load_state_dict(init_state)
        m = m.to(device)
        batches = window_batches(stream, p["seq_len"], stage["batch"], stage["steps"], order_seed, device)
        info = train(m, batches, stage["steps"], lr, stage["warmup"], p, label)
        set_tf32(False)
        return round_state(state_dict_f32(m), dtype), info

    def posttrain(init_state, label: str):
        set_tf32(tf32)
        m = model_from_state(mcfg, init_state, device)
        c = p["chat"]
        batches = chat_batches(chat_ids, chat_labels, chat_lengths, c["batch"], c["steps"],
                               args.seed * 1000 + 8, device)
        info = train(m, batches, c["steps"], c["lr"], c["warmup"], p, label)
        set_tf32(False)
        return round_state(state_dict_f32(m), dtype), info

    def save(name: str, info: dict):
        meta = save_model_dir(out / name, states[name], mcfg, tok, ids, p["save_dtype"])
        results["models"][name] = {**meta, **info}
        log(f"saved {name}: {meta['bytes'] / 1e6:.2f} MB")
        save_results()

    # ---- evaluation
    eos_ids = [ids[D.END], ids[D.EOT]]

    def evaluate_state(state, which=("instruct", "knowledge_new", "knowledge_old"), ppl=True, diagnostics=False):
        m = model_from_state(mcfg, state, device)
        r = {}
        for name in which:
            r[name] = exact_match_eval(m, tok, D.chat_variant(evalsets[name]), eos_ids, ids[D.EOT], device)
        if diagnostics:
            for name, items in diag.items():
                r[name] = exact_match_eval(m, tok, D.chat_variant(items), eos_ids, ids[D.EOT], device)
            # Does the model hold the facts at all? Asked in the plain-text
            # Q/A format of pre-training, first line of the output only.
            for name, base_set in (("plain_qa_old_held", "knowledge_old"), ("plain_qa_new_held", "knowledge_new")):
                items = [dict(it, prompt=f"Question: {it['prompt']}\nAnswer:") for it in evalsets[base_set]]
                r[name] = exact_match_eval(m, tok, items, eos_ids, ids[D.EOT], device, first_line=True,
                                           max_new_tokens=12)
        if ppl:
            for name, pid in ppl_ids.items():
                r[name] = perplexity(m, pid, mcfg.max_position_embeddings, device)
        return r

    def drift_row(label: str, base_old, post_old, base_new, post_new, **point) -> dict:
        """One point of the drift sweep: ParamDelta made from (base_old, post_old)
        on base_new, scored against post_new (that base's own post-training)."""
        pd = paramdelta(base_new, post_old, base_old, 1.0, dtype)
        rb = evaluate_state(base_new, which=("instruct",), ppl=True)
        rc = evaluate_state(post_new, which=("instruct", "knowledge_new"), ppl=False)
        rp = evaluate_state(pd, which=("instruct", "knowledge_new"), ppl=False)
        return {"label": label, **point,
                **delta_stats(base_old, post_old, base_new, post_new),
                "base_v2_instruct": rb["instruct"]["score"],
                "chat_v2_instruct": rc["instruct"]["score"],
                "paramdelta_instruct": rp["instruct"]["score"],
                "chat_v2_knowledge_new": rc["knowledge_new"]["score"],
                "paramdelta_knowledge_new": rp["knowledge_new"]["score"],
                "ppl_old_base_v2": rb["ppl_old"]}

    def run_drift_sweep(drift: List[dict], base_v1, chat_v1, point_seconds: float) -> None:
        """Trains each drift point's base-v2 and chat-v2 (not saved) and appends its row."""
        for i, pt in enumerate(p["drift_sweep"]):
            est = point_seconds * pt.get("steps_mult", 1.0) + 10
            if args.deadline_s and time.time() - T0 + est > args.deadline_s:
                log(f"drift point {i} skipped: it would end after the deadline")
                drift.append({"label": f"point{i}", **pt, "skipped": "deadline"})
                save_results()
                continue
            s2 = p["base_v2"]
            steps = sweep_steps(pt)
            stage = dict(s2, steps=steps, warmup=max(1, int(round(s2["warmup"] * pt.get("steps_mult", 1.0)))))
            stream, _ = v2_stream(steps, pt["replay"])
            lr = s2["lr"] * pt["lr_mult"]
            started = time.time()
            b2, _ = pretrain(base_v1, stream, stage, lr, args.seed * 1000 + 10, f"drift{i}-base")
            c2, _ = posttrain(b2, f"drift{i}-chat")
            row = drift_row(f"point{i}", base_v1, chat_v1, b2, c2, lr=lr, steps=steps, replay=pt["replay"])
            row["train_seconds"] = round(time.time() - started, 1)
            drift.append(row)
            log("drift " + json.dumps(row))
            save_results()

    def finish(drift: List[dict]) -> None:
        for row in drift:
            if "chat_v2_instruct" in row:
                row["paramdelta_instruct_pct_of_chat_v2"] = pct(row["paramdelta_instruct"], row["chat_v2_instruct"])
                row["paramdelta_knowledge_new_pct_of_chat_v2"] = pct(row["paramdelta_knowledge_new"],
                                                                     row["chat_v2_knowledge_new"])
        timings["total"] = round(time.time() - T0, 2)
        save_results()

    if args.sweep_from is not None:
        family = {name: load_family_state(args.sweep_from / name, tok, mcfg, dtype)
                  for name in ("base-v1", "chat-v1", "base-v2", "chat-v2")}
        results["sweep_from"] = {name: sha256(args.sweep_from / name / "model.safetensors") for name in family}
        s2 = p["base_v2"]
        with Timer(timings, "family_point"):
            drift = [drift_row("main", family["base-v1"], family["chat-v1"], family["base-v2"], family["chat-v2"],
                               lr=s2["lr"], steps=s2["steps"], replay=s2["replay"])]
        results["drift_sweep"] = drift
        save_results()
        log("drift " + json.dumps(drift[0]))
        # A point trains one base-v2 and one chat stage; the first one's time
        # is not known yet, so the deadline check starts from a guess of zero.
        with Timer(timings, "drift_sweep"):
            run_drift_sweep(drift, family["base-v1"], family["chat-v1"], 0.0)
        finish(drift)
        print_drift(drift)
        return

    # ---- the family
    with Timer(timings, "base_v1_data"):
        s1 = p["base_v1"]
        stream, sinfo = v1_stream()
        results["data"]["base_v1_tokens"] = int(len(stream))
        results["data"]["base_v1_distinct_wordings_per_person"] = sinfo["old_rounds"]
        results["data"]["base_v1_exposures_per_person"] = sinfo["old_rounds"] * p["data_epochs"]["base_v1"]
    with Timer(timings, "base_v1_train"):
        states["base-v1"], info = pretrain(None, stream, s1, s1["lr"], args.seed * 1000 + 9, "base-v1")
        info["params"] = param_count(LlamaForCausalLM(mcfg))
        save("base-v1", info)
    del stream

    with Timer(timings, "chat_v1_train"):
        states["chat-v1"], info = posttrain(states["base-v1"], "chat-v1")
        save("chat-v1", info)

    with Timer(timings, "base_v2_data"):
        s2 = p["base_v2"]
        stream, sinfo = v2_stream(s2["steps"], s2["replay"])
        results["data"]["base_v2_tokens"] = int(len(stream))
        results["data"]["base_v2_distinct_wordings_per_new_person"] = sinfo["new_rounds"]
        results["data"]["base_v2_exposures_per_new_person"] = sinfo["new_rounds"] * p["data_epochs"]["base_v2"]
    with Timer(timings, "base_v2_train"):
        states["base-v2"], info = pretrain(states["base-v1"], stream, s2, s2["lr"], args.seed * 1000 + 10,
                                           "base-v2")
        save("base-v2", info)
    with Timer(timings, "chat_v2_train"):
        states["chat-v2"], info = posttrain(states["base-v2"], "chat-v2")
        save("chat-v2", info)
    main_point_seconds = timings["base_v2_train"] + timings["chat_v2_train"]

    states["paramdelta"] = paramdelta(states["base-v2"], states["chat-v1"], states["base-v1"], 1.0, dtype)

    # ---- golden files for the other implementations
    with Timer(timings, "golden"):
        results["golden"] = write_golden(out / "golden", tok, mcfg, states, evalsets, ids)

    with Timer(timings, "evaluation"):
        table = {}
        for name in ("base-v1", "base-v2", "chat-v1", "chat-v2", "paramdelta"):
            table[name] = evaluate_state(states[name], diagnostics=True)
            log(f"{name:10s} " + summary_line(table[name]))
        # The base model asked without the chat template, as a base would be.
        m = model_from_state(mcfg, states["base-v2"], device)
        table["base-v2 (raw prompts)"] = {
            k: exact_match_eval(m, tok, evalsets[k], eos_ids, ids[D.EOT], device)
            for k in ("instruct", "knowledge_new")}
        results["eval"] = table
        results["delta_stats"] = delta_stats(states["base-v1"], states["chat-v1"], states["base-v2"],
                                             states["chat-v2"])
        results["targets"] = targets(table)
        log("targets: " + json.dumps(results["targets"]))
        save_results()

    with Timer(timings, "alpha_sweep"):
        sweep = []
        for a in p["alphas"]:
            st = paramdelta(states["base-v2"], states["chat-v1"], states["base-v1"], a, dtype)
            r = evaluate_state(st, which=("instruct", "knowledge_new"))
            row = {"alpha": a, "instruct": r["instruct"]["score"], "knowledge_new": r["knowledge_new"]["score"],
                   "ppl_old": r["ppl_old"], "ppl_new": r["ppl_new"]}
            sweep.append(row)
            log(f"alpha {a:4.2f}: " + json.dumps(row))
        results["alpha_sweep"] = sweep
        save_results()

    with Timer(timings, "transformers_check"):
        results["checks"] = cross_checks(out, tok, mcfg, states, results["golden"])
        log("checks: " + json.dumps(results["checks"]))
        save_results()

    # ---- how far can the base move? (numbers only; these models are not saved)
    drift = [{
        "label": "main", "lr": p["base_v2"]["lr"], "steps": p["base_v2"]["steps"], "replay": p["base_v2"]["replay"],
        **results["delta_stats"],
        "base_v2_instruct": table["base-v2"]["instruct"]["score"],
        "chat_v2_instruct": table["chat-v2"]["instruct"]["score"],
        "paramdelta_instruct": table["paramdelta"]["instruct"]["score"],
        "chat_v2_knowledge_new": table["chat-v2"]["knowledge_new"]["score"],
        "paramdelta_knowledge_new": table["paramdelta"]["knowledge_new"]["score"],
        "ppl_old_base_v2": table["base-v2"]["ppl_old"],
    }]
    results["drift_sweep"] = drift
    with Timer(timings, "drift_sweep"):
        if not args.skip_sweep:
            run_drift_sweep(drift, states["base-v1"], states["chat-v1"], main_point_seconds)
    finish(drift)
    print_report(results)


def pct(a: float, b: float) -> Optional[float]:
    return None if b == 0 else round(100.0 * a / b, 1)


def summary_line(r: dict) -> str:
    parts = []
    for k in ("instruct", "knowledge_new", "knowledge_old", "knowledge_new_qa_seen", "knowledge_old_post_trained",
              "plain_qa_old_held", "plain_qa_new_held"):
        if k in r:
            parts.append(f"{k} {r[k]['score']:.3f}")
    for k in ("ppl_old", "ppl_new"):
        if k in r:
            parts.append(f"{k} {r[k]:.2f}")
    return " | ".join(parts)


def targets(table: dict) -> dict:
    s = {k: {t: table[k][t]["score"] for t in ("instruct", "knowledge_new")} for k in table
         if "instruct" in table[k]}
    ins = pct(s["paramdelta"]["instruct"], s["chat-v2"]["instruct"])
    kn = pct(s["paramdelta"]["knowledge_new"], s["chat-v2"]["knowledge_new"])
    # A percentage of a reference that itself fails the task says nothing, so
    # the targets also ask chat-v2 to do the task (at least half right).
    return {
        "instruct_chat_v2": s["chat-v2"]["instruct"],
        "instruct_paramdelta_pct_of_chat_v2": ins,
        "instruct_base_v2": s["base-v2"]["instruct"],
        "instruct_target_met": bool(ins is not None and ins >= 90 and s["base-v2"]["instruct"] <= 0.10
                                    and s["chat-v2"]["instruct"] >= 0.5),
        "knowledge_new_chat_v2": s["chat-v2"]["knowledge_new"],
        "knowledge_new_paramdelta_pct_of_chat_v2": kn,
        "knowledge_new_chat_v1": s["chat-v1"]["knowledge_new"],
        "knowledge_new_target_met": bool(kn is not None and kn >= 75 and s["chat-v2"]["knowledge_new"] >= 0.5),
    }


# ---------------------------------------------------------------- golden files and cross-checks


GOLDEN_TEXTS = [
    "Here are some facts about",
    "Naïve café — 3×4=12,\ttabs  and   spaces\n<|end|> déjà vu 🙂",
]


def golden_prompts(evalsets) -> List[str]:
    return [
        GOLDEN_TEXTS[0],
        D.render_chat_prompt(evalsets["instruct"][0]["prompt"]),
        D.render_chat_prompt(evalsets["knowledge_new"][0]["prompt"]),
        GOLDEN_TEXTS[1],
    ]


def write_golden(gdir: Path, tok, mcfg, states, evalsets, ids) -> dict:
    """Token ids (Hugging Face tokenizer) and float32 logits (this PyTorch model
    on CPU, from the stored bf16 weights) for a few prompts and each model;
    greedy continuations of the chat prompts; the ParamDelta (scale 1) model is
    base-v2 + (chat-v1 - base-v1) summed in float32 and rounded to the stored
    dtype."""
    from safetensors.torch import save_file
    gdir.mkdir(parents=True, exist_ok=True)
    prompts = golden_prompts(evalsets)
    tok_cases = prompts + [it["prompt"] for it in D.chat_variant(evalsets["instruct"][:4])] + \
        [it["answer"] for it in evalsets["instruct"][:4]]
    tokens = []
    for text in tok_cases:
        enc = tok.encode(text, add_special_tokens=False).ids
        tokens.append({"text": text, "ids": enc, "decoded": tok.decode(enc, skip_special_tokens=False),
                       "decoded_skip_special": tok.decode(enc, skip_special_tokens=True)})
    tensors = {}
    generations = {}
    models = ("base-v1", "chat-v1", "base-v2", "chat-v2", "paramdelta")
    cpu = torch.device("cpu")
    for name in models:
        m = model_from_state(mcfg, states[name], cpu)
        with torch.no_grad():
            for i, text in enumerate(prompts):
                x = torch.tensor([tok.encode(text, add_special_tokens=False).ids])
                tensors[f"{name}/prompt{i}"] = m(x)[0].contiguous()
        gen = greedy_generate(m, [tok.encode(prompts[i], add_special_tokens=False).ids for i in (1, 2)],
                              [ids[D.END], ids[D.EOT]], ids[D.EOT], cpu, max_new_tokens=16)
        generations[name] = {"prompt1": gen[0], "prompt2": gen[1]}
    save_file(tensors, str(gdir / "logits.safetensors"), metadata={"format": "pt"})
    merged_sums = {k: float(v.double().sum()) for k, v in sorted(states["paramdelta"].items())}
    golden = {
        "prompts": prompts,
        "logits_file": "logits.safetensors",
        "logits_names": "<model>/prompt<i>, float32 [tokens, vocab]",
        "models": list(models),
        "paramdelta_rule": "bf16(f32(base-v2) + 1.0 * (f32(chat-v1) - f32(base-v1)))",
        "paramdelta_tensor_sums": merged_sums,
        "greedy_max_new_tokens": 16,
        "greedy_stop_ids": [ids[D.END], ids[D.EOT]],
        "greedy_generations": generations,
        "tokenizer_cases": tokens,
    }
    (gdir / "golden.json").write_text(json.dumps(golden, indent=2, ensure_ascii=False) + "\n")
    return {"prompts": len(prompts), "tokenizer_cases": len(tokens)}


def cross_checks(out: Path, tok, mcfg, states, golden_info) -> dict:
    """Checks the saved directories with the reference libraries that are
    installed: safetensors + tokenizers always; jinja2 and transformers if present."""
    checks: dict = {}
    from safetensors.torch import load_file
    from tokenizers import Tokenizer
    golden = json.loads((out / "golden" / "golden.json").read_text())
    ref = load_file(str(out / "golden" / "logits.safetensors"))
    for name in ("base-v1", "chat-v1", "base-v2", "chat-v2"):
        d = out / name
        loaded = load_file(str(d / "model.safetensors"))
        same = all(torch.equal(loaded[k].float(), states[name][k]) for k in states[name])
        t2 = Tokenizer.from_file(str(d / "tokenizer.json"))
        tok_ok = all(t2.encode(c["text"], add_special_tokens=False).ids == c["ids"] for c in golden["tokenizer_cases"])
        checks[name] = {"safetensors_roundtrip": same, "tokenizer_matches_golden": tok_ok}
    try:
        import jinja2
        env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
        tmpl = env.from_string(D.CHAT_TEMPLATE)
        msgs = [{"role": "user", "content": "Count the words: red, sun"}]
        checks["jinja_template_matches_renderer"] = (
            tmpl.render(messages=msgs, add_generation_prompt=True) == D.render_chat_prompt(msgs[0]["content"]))
    except ImportError:
        checks["jinja_template_matches_renderer"] = "jinja2 not installed"
    try:
        import transformers  # noqa: F401
    except ImportError:
        checks["transformers"] = "not installed"
        return checks
    # Each check on its own, so one failing library call does not hide the others.
    hf: dict = {}
    for name in ("base-v1", "chat-v1", "base-v2", "chat-v2"):
        d = str(out / name)
        r: dict = {}
        try:
            from transformers import LlamaForCausalLM as HFLlama
            try:
                model = HFLlama.from_pretrained(d, dtype=torch.float32)
            except TypeError:
                model = HFLlama.from_pretrained(d, torch_dtype=torch.float32)
            model.eval()
            worst = 0.0
            with torch.no_grad():
                for i, text in enumerate(golden["prompts"]):
                    x = torch.tensor([tok.encode(text, add_special_tokens=False).ids])
                    logits = model(input_ids=x).logits[0].float()
                    worst = max(worst, float((logits - ref[f"{name}/prompt{i}"]).abs().max()))
            r["max_abs_logit_error"] = worst
        except Exception as exc:  # record why, do not sink the run
            r["model_error"] = f"{type(exc).__name__}: {exc}"
        try:
            from transformers import AutoTokenizer
            at = AutoTokenizer.from_pretrained(d)
            msg = [{"role": "user", "content": "Which word comes last here: tea, cup"}]
            rendered = at.apply_chat_template(msg, tokenize=False, add_generation_prompt=True)
            r["chat_template_matches"] = rendered == D.render_chat_prompt(msg[0]["content"])
            r["autotokenizer_matches_golden_ids"] = all(
                at(c["text"], add_special_tokens=True)["input_ids"] == c["ids"] for c in golden["tokenizer_cases"])
        except Exception as exc:
            r["tokenizer_error"] = f"{type(exc).__name__}: {exc}"
        hf[name] = r
    checks["transformers"] = hf
    return checks


def print_report(results: dict) -> None:
    print("\n==== summary ====")
    for name, r in results["eval"].items():
        print(f"{name:22s} {summary_line(r)}")
    print("targets:", json.dumps(results["targets"]))
    print("delta stats:", json.dumps({k: round(v, 4) for k, v in results["delta_stats"].items()}))
    print("alpha sweep:")
    for row in results["alpha_sweep"]:
        print("  ", json.dumps(row))
    print_drift(results["drift_sweep"])
    print("timings (s):", json.dumps(results["timings_s"]))


if __name__ == "__main__":
    main()
