"""`paramdelta eval` end to end: a random-weight model with a byte-level BPE
tokenizer trained here with Hugging Face's `tokenizers`, scored by the real
command line and by the NumPy reference (test_eval_reference.py) on ids
from Hugging Face's tokenizer: perplexity and bits per byte, generation
exact match (with stop strings) and log-likelihood choice accuracy, raw and
through a chat template.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from test_eval_reference import base_config, forward, log_softmax, random_weights, run_cli, write_model

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Paris is the capital of France; Berlin is the capital of Germany.",
    "Numbers like 12345 and 3.14159 appear in text, as do émigrés and naïve cafés.",
    "A model is only worth shipping if it works: check it on held-out text.",
] * 4

TEMPLATE = ("{% for message in messages %}{{ '<s>' + message['role'] + ': ' + message['content'] | trim + '\\n' }}"
            "{% endfor %}{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}")


def render_reference(system: str | None, prompt: str) -> str:
    """TEMPLATE, rendered by hand."""
    messages = ([("system", system)] if system else []) + [("user", prompt)]
    return "".join(f"<s>{role}: {content.strip()}\n" for role, content in messages) + "assistant:"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("eval_model")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(CORPUS, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(json.dumps(
        {"bos_token": "<s>", "eos_token": "</s>", "chat_template": TEMPLATE}))
    assert tokenizer.token_to_id("<s>") == 1 and tokenizer.token_to_id("</s>") == 2

    cfg = base_config("llama", vocab_size=tokenizer.get_vocab_size(), num_key_value_heads=2,
                      max_position_embeddings=64)
    weights = write_model(directory, cfg, random_weights(cfg, seed=11), "BF16")
    return directory, cfg, weights, tokenizer


def greedy_reference(cfg, weights, tokenizer, ids, max_new, stops):
    """Greedy decoding, then the documented normalisation: leading whitespace
    dropped, cut at the first stop string, ASCII whitespace trimmed."""
    ids = list(ids)
    generated = []
    margins = []
    for _ in range(max_new):
        logits = forward(cfg, weights, ids)[-1]
        order = np.argsort(-logits)
        margins.append(logits[order[0]] - logits[order[1]])
        token = int(order[0])
        if token == 2:  # EOS
            break
        generated.append(token)
        ids.append(token)
    text = tokenizer.decode(generated, skip_special_tokens=True).lstrip(" \t\n\r\f\v")
    cuts = [text.find(s) for s in stops if text.find(s) >= 0]
    if cuts:
        text = text[:min(cuts)]
    return text.strip(" \t\n\r\f\v"), min(margins)


def choice_reference(cfg, weights, tokenizer, prompt_text, choices, add_special):
    prompt = tokenizer.encode(prompt_text, add_special_tokens=add_special).ids
    scores = []
    for choice in choices:
        full = tokenizer.encode(prompt_text + choice, add_special_tokens=add_special).ids
        first = 0
        while first < min(len(prompt), len(full)) and prompt[first] == full[first]:
            first += 1
        logp = log_softmax(forward(cfg, weights, full))
        scores.append(sum(logp[j - 1, full[j]] for j in range(first, len(full))))
    return scores


def test_perplexity_and_bits_per_byte(model, tmp_path):
    directory, cfg, weights, tokenizer = model
    text = " ".join(CORPUS[:3]) + "\n"
    (tmp_path / "text.txt").write_text(text)
    ids = tokenizer.encode(text).ids
    assert ids[0] == 1 and len(ids) > 40

    out = run_cli("eval", "--model", str(directory), "--data", str(tmp_path / "text.txt"), "--metric", "perplexity",
                  "--context", "32", "--stride", "10", "--json")
    record = json.loads(out.stdout)["models"][0]

    total, scored, begin = 0.0, set(), 0
    while True:  # the windowing rule, as documented
        end = min(begin + 32, len(ids))
        logp = log_softmax(forward(cfg, weights, ids[begin:end]))
        for j in range(begin + 1, end):
            if j not in scored:
                scored.add(j)
                total -= logp[j - 1 - begin, ids[j]]
        if end == len(ids):
            break
        begin += 10
    assert record["tokens_total"] == len(ids)
    assert record["tokens_scored"] == len(ids) - 1 == len(scored)
    assert record["perplexity"] == pytest.approx(math.exp(total / len(scored)), rel=1e-5)
    assert record["bytes"] == len(text.encode())
    assert record["bits_per_byte"] == pytest.approx(total / math.log(2) / len(text.encode()), rel=1e-5)
    assert record["percent_of_reference"] == pytest.approx(100.0)


def test_accuracy_generation_and_choices(model, tmp_path):
    directory, cfg, weights, tokenizer = model
    prompts = ["The quick brown", "Paris is the", "Numbers like", "A model is only", "check it on"]
    tasks, expected = [], []
    for i, prompt in enumerate(prompts):
        ids = tokenizer.encode(prompt).ids
        stops = [" "] if i % 2 else ["\n"]
        prediction, margin = greedy_reference(cfg, weights, tokenizer, ids, 6, stops)
        assert margin > 1e-3, "greedy choice too close to call; change the seed"
        correct = i % 3 != 0  # the reference's own output for some, a wrong answer for others
        answer = f"  {prediction}\n" if correct else prediction + "!"
        tasks.append({"prompt": prompt, "answer": answer, "stop": stops})
        expected.append(correct)
    for i, prompt in enumerate(prompts):
        choices = [" fox", " capital", " text.", " café"]
        scores = choice_reference(cfg, weights, tokenizer, prompt, choices, add_special=True)
        best = int(np.argmax(scores))
        assert sorted(scores)[-1] - sorted(scores)[-2] > 1e-3
        label = best if i % 2 == 0 else (best + 1) % len(choices)
        tasks.append({"prompt": prompt, "choices": choices, "label": label})
        expected.append(label == best)
    data = tmp_path / "tasks.jsonl"
    data.write_text("\n".join(json.dumps(t) for t in tasks) + "\n\n")

    out = run_cli("eval", "--model", str(directory), "--data", str(data), "--metric", "accuracy",
                  "--max-new-tokens", "6", "--json")
    record = json.loads(out.stdout)["models"][0]
    assert [o["correct"] for o in record["outcomes"]] == expected
    assert record["accuracy"] == pytest.approx(sum(expected) / len(expected))
    assert record["generation_tasks"] == 5 and record["choice_tasks"] == 5
    for outcome, task in zip(record["outcomes"][5:], tasks[5:]):
        reference = choice_reference(cfg, weights, tokenizer, task["prompt"], task["choices"], add_special=True)
        assert outcome["choice_log_likelihoods"] == pytest.approx(reference, rel=1e-5)

    table = run_cli("eval", "--model", str(directory), "--data", str(data), "--metric", "accuracy",
                    "--max-new-tokens", "6").stdout
    assert f"{sum(expected)}/{len(expected)}" in table and "100.00%" in table


def test_accuracy_with_the_chat_template(model, tmp_path):
    directory, cfg, weights, tokenizer = model
    task = {"system": "  Be brief. ", "prompt": "Paris is the", "choices": [" capital", " fox"], "label": 0}
    (tmp_path / "tasks.jsonl").write_text(json.dumps(task) + "\n")
    out = run_cli("eval", "--model", str(directory), "--data", str(tmp_path / "tasks.jsonl"), "--metric", "accuracy",
                  "--chat-template", "--json")
    record = json.loads(out.stdout)["models"][0]
    rendered = render_reference(task["system"], task["prompt"])
    reference = choice_reference(cfg, weights, tokenizer, rendered, task["choices"], add_special=False)
    assert record["outcomes"][0]["choice_log_likelihoods"] == pytest.approx(reference, rel=1e-5)
    assert record["prompt_tokens"] == len(tokenizer.encode(rendered, add_special_tokens=False).ids)


def test_comparison_against_a_reference_model(model, tmp_path):
    directory, cfg, weights, tokenizer = model
    other = tmp_path / "other"
    other_weights = write_model(other, cfg, random_weights(cfg, seed=12), "BF16")
    for name in ["tokenizer.json", "tokenizer_config.json"]:
        (other / name).write_bytes((directory / name).read_bytes())
    (tmp_path / "text.txt").write_text(CORPUS[1])
    out = run_cli("eval", "--model", str(other), "--model", str(directory), "--reference", str(directory),
                  "--data", str(tmp_path / "text.txt"), "--metric", "perplexity", "--json")
    records = json.loads(out.stdout)["models"]
    assert [r["model"] for r in records] == [str(directory), str(other)]
    assert records[0]["reference"] and not records[1]["reference"]
    ids = tokenizer.encode(CORPUS[1]).ids

    def ppl(w):
        logp = log_softmax(forward(cfg, w, ids))
        return math.exp(-np.mean([logp[j - 1, ids[j]] for j in range(1, len(ids))]))

    assert records[0]["perplexity"] == pytest.approx(ppl(weights), rel=1e-5)
    assert records[1]["perplexity"] == pytest.approx(ppl(other_weights), rel=1e-5)
    assert records[1]["percent_of_reference"] == pytest.approx(100 * ppl(other_weights) / ppl(weights), rel=1e-5)


def test_bad_inputs_fail_with_one_clear_line(model, tmp_path):
    directory, cfg, weights, tokenizer = model
    data = tmp_path / "tasks.jsonl"
    data.write_text('{"prompt": "a", "answer": "b"}\n{"prompt": "a", "choices": ["x", "y"], "label": 2}\n')
    out = run_cli("eval", "--model", str(directory), "--data", str(data), "--metric", "accuracy", check=False)
    assert out.returncode == 1
    assert f"{data}:2" in out.stderr and "label" in out.stderr and len(out.stderr.strip().splitlines()) == 1

    data.write_text('{"prompt": "a", "answer": "b", "system": "s"}\n')
    out = run_cli("eval", "--model", str(directory), "--data", str(data), "--metric", "accuracy", check=False)
    assert out.returncode == 2 and f"{data}:1" in out.stderr and "--chat-template" in out.stderr

    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ["model.safetensors", "tokenizer.json", "tokenizer_config.json"]:
        (broken / name).write_bytes((directory / name).read_bytes())
    (broken / "config.json").write_text(json.dumps(dict(cfg, architectures=["GPT2LMHeadModel"])))
    (tmp_path / "text.txt").write_text("hello world")
    out = run_cli("eval", "--model", str(broken), "--data", str(tmp_path / "text.txt"), "--metric", "perplexity",
                  check=False)
    assert out.returncode == 1
    assert "architectures" in out.stderr and "GPT2LMHeadModel" in out.stderr
