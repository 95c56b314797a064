"""Reference evaluation in PyTorch, with the conventions the evaluation files
are written for:

* generation tasks (JSONL lines {"prompt", "answer"}): the prompt is encoded
  as it is (no special tokens added; *_chat.jsonl prompts already hold the
  chat template's output), decoded greedily for at most MAX_NEW_TOKENS
  tokens, stopping at <|end|> or <|endoftext|>; the output, decoded without
  special tokens and trimmed of whitespace, must equal the trimmed answer;
* perplexity (plain text): the whole file is encoded without special tokens
  and cut into consecutive windows of max_position_embeddings tokens; every
  token but the first of each window is predicted; perplexity is
  exp(mean negative log-likelihood).
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F

MAX_NEW_TOKENS = 32


@torch.no_grad()
def greedy_generate(model, prompt_ids: Sequence[Sequence[int]], eos_ids: Sequence[int],
                    pad_id: int, device, max_new_tokens: int = MAX_NEW_TOKENS,
                    batch_size: int = 128) -> List[List[int]]:
    """Generated ids per prompt (stop token excluded). Batches are left-padded;
    padded keys are masked and positions start at 0 on each prompt's first token."""
    model.eval()
    order = sorted(range(len(prompt_ids)), key=lambda i: len(prompt_ids[i]))
    out: List[List[int]] = [[] for _ in prompt_ids]
    eos = torch.tensor(list(eos_ids), device=device)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        longest = max(len(prompt_ids[i]) for i in idx)
        ids = torch.full((len(idx), longest), pad_id, dtype=torch.long)
        mask = torch.zeros((len(idx), longest), dtype=torch.long)
        for r, i in enumerate(idx):
            p = prompt_ids[i]
            ids[r, longest - len(p):] = torch.tensor(p, dtype=torch.long)
            mask[r, longest - len(p):] = 1
        ids, mask = ids.to(device), mask.to(device)
        done = torch.zeros(len(idx), dtype=torch.bool, device=device)
        generated = []
        for _ in range(max_new_tokens):
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = model(ids, position_ids=pos, attention_mask=mask)[:, -1]
            nxt = logits.argmax(-1)
            generated.append(nxt)
            done = done | (nxt[:, None] == eos[None]).any(-1)
            ids = torch.cat([ids, nxt[:, None]], dim=1)
            mask = torch.cat([mask, torch.ones_like(nxt)[:, None]], dim=1)
            if bool(done.all()):
                break
        gen = torch.stack(generated, dim=1).tolist()
        stop = set(int(e) for e in eos_ids)
        for r, i in enumerate(idx):
            seq = []
            for t in gen[r]:
                if t in stop:
                    break
                seq.append(t)
            out[i] = seq
    return out


def exact_match_eval(model, tok, items: List[dict], eos_ids, pad_id, device,
                     first_line: bool = False, max_new_tokens: int = MAX_NEW_TOKENS) -> Dict:
    """Exact-match accuracy. first_line keeps only the output's first line (for
    probing base models in their own plain-text Q/A format, which has no stop token)."""
    prompts = [e.ids for e in tok.encode_batch([it["prompt"] for it in items], add_special_tokens=False)]
    gens = greedy_generate(model, prompts, eos_ids, pad_id, device, max_new_tokens=max_new_tokens)
    correct = 0
    by_task: Dict[str, List[int]] = {}
    samples = []
    for it, g in zip(items, gens):
        pred = tok.decode(g, skip_special_tokens=True)
        if first_line:
            pred = pred.lstrip().split("\n")[0]
        pred = pred.strip()
        ok = int(pred == it["answer"].strip())
        correct += ok
        t = by_task.setdefault(it.get("task", "all"), [0, 0])
        t[0] += ok
        t[1] += 1
        if len(samples) < 4:
            samples.append({"prompt": it["prompt"], "answer": it["answer"], "output": pred})
    return {
        "score": correct / max(1, len(items)),
        "n": len(items),
        "by_task": {k: v[0] / v[1] for k, v in sorted(by_task.items())},
        "samples": samples,
    }


@torch.no_grad()
def perplexity(model, ids: Sequence[int], window: int, device, batch_size: int = 32) -> float:
    model.eval()
    windows = [list(ids[i:i + window]) for i in range(0, len(ids), window)]
    windows = [w for w in windows if len(w) > 1]
    total, count = 0.0, 0
    # Full windows go in batches; a shorter tail window goes alone.
    groups: Dict[int, List[List[int]]] = {}
    for w in windows:
        groups.setdefault(len(w), []).append(w)
    for length, ws in sorted(groups.items()):
        for start in range(0, len(ws), batch_size):
            x = torch.tensor(ws[start:start + batch_size], dtype=torch.long, device=device)
            logits = model(x)[:, :-1]
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                                  reduction="sum")
            total += float(nll)
            count += x.shape[0] * (length - 1)
    return math.exp(total / max(1, count))
