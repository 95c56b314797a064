"""Fast checks of the trainer's building blocks (seconds on a CPU).

Run with an interpreter that has torch, tokenizers and pytest:
  python3 -m pytest -q tools/tiny_family
Skipped where torch is missing (the project's test environment has none).
"""

import random
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tiny_data as D  # noqa: E402
from tiny_eval import greedy_generate  # noqa: E402
from tiny_llama import LlamaConfig, LlamaForCausalLM, rotate_half, round_state  # noqa: E402
from tiny_tokenizer import train_tokenizer  # noqa: E402


def small_model(seed=0):
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32)
    m = LlamaForCausalLM(cfg)
    m.init_weights(torch.Generator().manual_seed(seed))
    return m.eval()


def test_weight_names_follow_hugging_face_llama():
    names = set(small_model().state_dict())
    assert "model.embed_tokens.weight" in names and "lm_head.weight" in names
    assert "model.layers.1.self_attn.k_proj.weight" in names
    assert "model.layers.0.mlp.gate_proj.weight" in names
    assert "model.layers.0.post_attention_layernorm.weight" in names and "model.norm.weight" in names


def test_init_is_fixed_by_the_seed():
    a, b, c = small_model(1).state_dict(), small_model(1).state_dict(), small_model(2).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["lm_head.weight"], c["lm_head.weight"])


def test_rotate_half_convention():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert rotate_half(x).tolist() == [-3.0, -4.0, 1.0, 2.0]


def test_left_padding_does_not_change_logits():
    m = small_model()
    ids = torch.tensor([[5, 9, 13, 2]])
    ref = m(ids)[0, -1]
    padded = torch.tensor([[0, 0, 5, 9, 13, 2]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1]])
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    got = m(padded, position_ids=pos, attention_mask=mask)[0, -1]
    assert torch.allclose(ref, got, atol=1e-5)


def test_batched_greedy_equals_one_at_a_time():
    m = small_model()
    prompts = [[5, 9, 13], [7], [1, 2, 3, 4, 5, 6]]
    batched = greedy_generate(m, prompts, eos_ids=[63], pad_id=0, device="cpu", max_new_tokens=6)
    single = [greedy_generate(m, [p], eos_ids=[63], pad_id=0, device="cpu", max_new_tokens=6)[0] for p in prompts]
    assert batched == single


def test_round_state_is_what_a_bf16_file_holds():
    s = {"w": torch.tensor([1.0 + 2 ** -10, 3.14159])}
    r = round_state(s, torch.bfloat16)
    assert torch.equal(r["w"], s["w"].to(torch.bfloat16).float())
    assert r["w"][0].item() == 1.0


def test_worlds_and_corpora_are_deterministic():
    w1 = D.make_world(random.Random(7), 50, D.LAST_NAMES_OLD)
    w2 = D.make_world(random.Random(7), 50, D.LAST_NAMES_OLD)
    assert w1.people == w2.people
    assert D.old_corpus_round(random.Random(3), w1, 0.5, 0.5) == D.old_corpus_round(random.Random(3), w2, 0.5, 0.5)
    assert not set(D.LAST_NAMES_OLD) & set(D.LAST_NAMES_NEW)


def test_biographies_state_every_fact_with_the_full_name():
    p = D.make_world(random.Random(1), 1, D.LAST_NAMES_NEW).people[0]
    bio = D.biography(random.Random(2), p)
    for _, value in p.facts:
        assert value in bio
    assert bio.count(p.name) >= len(p.facts)


@pytest.mark.parametrize("task", D.INSTRUCTION_TASKS)
def test_instruction_answers(task):
    rng = random.Random(11)
    for _ in range(20):
        msg, ans = D.instruction(rng, task)
        if task in ("reverse", "first", "last", "count"):
            words = msg.split(": ", 1)[1].split(", ")
            expect = {"reverse": ", ".join(words[::-1]), "first": words[0], "last": words[-1],
                      "count": str(len(words))}[task]
            assert ans == expect
        elif task == "repeat":
            assert len(set(ans.split())) == 1 and 2 <= len(ans.split()) <= 5
        else:
            assert ans in D.LIST_WORDS


def test_chat_template_renders_like_the_python_renderer():
    jinja2 = pytest.importorskip("jinja2")
    msgs = [{"role": "user", "content": "Count the words: red, sun"}]
    for env in (jinja2.Environment(), jinja2.Environment(trim_blocks=True, lstrip_blocks=True)):
        out = env.from_string(D.CHAT_TEMPLATE).render(messages=msgs, add_generation_prompt=True)
        assert out == D.render_chat_prompt(msgs[0]["content"])


def test_tokenizer_keeps_special_tokens_whole_and_adds_none():
    texts = [D.render_chat_prompt("Count the words: red, sun") + "2" + D.END] * 50
    tok = train_tokenizer(texts, 300)
    enc = tok.encode(texts[0]).ids
    assert enc == tok.encode(texts[0], add_special_tokens=False).ids
    assert enc[0] == tok.token_to_id(D.USER) and enc[-1] == tok.token_to_id(D.END)
    assert tok.decode(enc, skip_special_tokens=False) == texts[0]


def test_instruction_eval_holds_out_every_task_even_after_a_large_post_training_set():
    rng = random.Random(5)
    world = D.make_world(random.Random(1), 50, D.LAST_NAMES_OLD)
    train = {m for _, m, _ in (D.chat_example(rng, world, 1.0) for _ in range(20000))}
    items = D.instruction_eval(random.Random(6), 120, train)
    assert len(items) == 120 and not any(it["prompt"] in train for it in items)
    assert {it["task"] for it in items} == set(D.INSTRUCTION_TASKS)


def test_drift_points_parse_with_defaults_and_reject_nonsense():
    import argparse
    from train import parse_drift_points
    assert parse_drift_points("0.3;1,0.5;2,1,0.25") == [
        {"lr_mult": 0.3, "steps_mult": 1.0, "replay": 0.5},
        {"lr_mult": 1.0, "steps_mult": 0.5, "replay": 0.5},
        {"lr_mult": 2.0, "steps_mult": 1.0, "replay": 0.25}]
    for bad in ("", "x", "0", "1,0", "1,1,1", "1,2,0.5,9", "1;;2"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_drift_points(bad)
