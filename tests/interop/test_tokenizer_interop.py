"""Our tokenizer against Hugging Face's `tokenizers`, id for id.

Each test builds (trains) a small tokenizer.json with `tokenizers` itself, in
the style of a model family: GPT-2, Llama-3 and Qwen2 (byte-level BPE with
their pre-tokenizer patterns), Llama-2 and Mistral (SentencePiece-style BPE
with metaspace and byte fallback), plus unk handling. Then it encodes a
varied corpus (tokenizer_corpus.jsonl and generated stress strings) with
Hugging Face and with `paramdelta tokenize`, and requires identical ids and
identical decoded text.
"""

import json
import os
import random
import subprocess
import unicodedata
from pathlib import Path

import pytest
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
# One JSON string per line; split on "\n" only (the strings hold other line separators).
CORPUS = [json.loads(line) for line in (HERE / "tokenizer_corpus.jsonl").read_text(encoding="utf-8").split("\n") if line]

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"""
    r"""\s+(?!\S)|\s+"""
)
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"""
    r"""\s+(?!\S)|\s+"""
)
CHATML_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
SP_SPECIALS = ["<unk>", "<s>", "</s>"]


# ---------------------------------------------------------------- helpers


def cli_path():
    path = os.environ.get("PARAMDELTA_CLI")
    assert path, "set PARAMDELTA_CLI to the built paramdelta program"
    return path


def run_cli(*args):
    result = subprocess.run([cli_path(), "tokenize", *args], capture_output=True, encoding="utf-8", timeout=600)
    assert result.returncode == 0, f"paramdelta tokenize {args[:4]} failed: {result.stderr}"
    return result.stdout


def training_text():
    rng = random.Random(1234)
    words = " ".join(CORPUS).split()
    lines = list(CORPUS) * 3
    for _ in range(400):
        lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 15))))
    lines.append(" zzqx appears once")
    return lines


def stress_strings():
    """Generated inputs: long words and runs, random mixes of every script and
    of special-token spellings, and one long document."""
    rng = random.Random(99)
    out = [
        "a" * 3000,
        "ab" * 1500,
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(5000)),
        "中文分词" * 500,
        "😀👍🏽" * 300,
        " " * 1000,
        "\n" * 300,
        "\t \n" * 200,
        "1234567890" * 200,
        "word " * 500 + "end",
        " zzqx zzqx zzqxzzqx",
    ]
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "0123456789",
        " \t\n\r\u00a0\u2003\u3000\u0085\u180e",
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "éèêëàâäôöûüçñÅØŁßſ",
        "\u0301\u0308\u0323\u0316\u0334\u05b0",
        "中文日本語한국어ภาษา",
        "😀🚀✨❤️👨‍👩‍👧‍👦🇫🇷",
        "▁ĠĊ",
    ]
    tokens = CHATML_SPECIALS + SP_SPECIALS + ["<mask>", "[TOOL]", "hello", "'s", "'T", "<0x41>"]
    for _ in range(120):
        parts = []
        for _ in range(rng.randint(1, 30)):
            if rng.random() < 0.12:
                parts.append(rng.choice(tokens))
            else:
                pool = rng.choice(pools)
                parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 6))))
        out.append("".join(parts))
    out.append("\n".join(CORPUS) * 15)  # a long document
    return out


def nfc_strings():
    """Every composition, decomposition and reordering case of the NFC tables."""
    compositions = []
    decomposed = []
    reorder = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        mapping = unicodedata.decomposition(c)
        if mapping and not mapping.startswith("<"):
            compositions.append(unicodedata.normalize("NFD", c))
            decomposed.append(c)
        klass = unicodedata.combining(c)
        if klass:
            reorder.append("a" + c + "\u0334\u0316\u0301" + c + "e\u0301" + c)
    chunks = []
    for group in (compositions, decomposed, reorder):
        for i in range(0, len(group), 200):
            chunks.append(" ".join(group[i:i + 200]))
    chunks.append("\u1100\u1161\u11a8 \u1100\u1161 \uac00\u11a8 \u1112\u1161\u11ab\u1100\u1173\u11af")
    return chunks


def compare(tmp_path, name, hf, model_dir, texts):
    """Encodes `texts` with both, with and without special tokens; compares ids
    and decoded text (with and without skipping special tokens)."""
    inputs = tmp_path / f"{name}-inputs.jsonl"
    inputs.write_text("".join(json.dumps(t) + "\n" for t in texts), encoding="utf-8")
    checked = 0
    for add_special in (True, False):
        for skip_special in (False, True):
            args = ["--tokenizer", str(model_dir), "--jsonl", str(inputs)]
            if not add_special:
                args.append("--no-special")
            if skip_special:
                args.append("--skip-special")
            lines = run_cli(*args).split("\n")[:-1]
            assert len(lines) == len(texts), "one result per input line expected"
            bad = []
            for text, line in zip(texts, lines):
                ours = json.loads(line)
                theirs = hf.encode(text, add_special_tokens=add_special).ids
                if ours["ids"] != theirs:
                    bad.append(f"ids differ for {text[:80]!r}:\n  hf   {theirs[:40]}\n  ours {ours['ids'][:40]}")
                    continue
                expected_text = hf.decode(theirs, skip_special_tokens=skip_special)
                if ours["decoded"] != expected_text:
                    bad.append(f"decode differs for {text[:80]!r}: hf {expected_text[:80]!r} ours {ours['decoded'][:80]!r}")
                    continue
                expected_tokens = [hf.id_to_token(i) for i in theirs]
                if ours["tokens"] != expected_tokens:
                    bad.append(f"tokens differ for {text[:80]!r}")
                    continue
                checked += 1
            assert not bad, f"{name}: {len(bad)} of {len(texts)} differ (special={add_special}):\n" + "\n".join(bad[:8])
    return checked


def compare_decode_random(hf, model_dir, vocab_size, seed, count=12):
    """Decoding arbitrary id sequences (invalid UTF-8 byte runs, lone specials,
    unknown ids) gives the same text."""
    rng = random.Random(seed)
    for k in range(count):
        ids = [rng.randrange(vocab_size + 3) for _ in range(rng.randint(1, 24))]
        skip = k % 2 == 1
        args = ["--tokenizer", str(model_dir), "--decode", ",".join(map(str, ids)), "--json"]
        if skip:
            args.append("--skip-special")
        ours = json.loads(run_cli(*args))["text"]
        assert ours == hf.decode(ids, skip_special_tokens=skip), f"decode of {ids} differs"


def write_model_dir(path, tokenizer_json, config=None):
    path.mkdir(parents=True, exist_ok=True)
    (path / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
    if config is not None:
        (path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return path


def all_texts():
    return CORPUS + stress_strings()


# ---------------------------------------------------------------- builders


def byte_level_tokenizer(pre_tokenizer, specials, normalizer=None, extra_added=(), ignore_merges=False):
    """Trains a byte-level BPE with this pipeline; returns its tokenizer.json as a dict."""
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1500,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_text(), trainer)
    tok.add_tokens(list(extra_added))
    data = json.loads(tok.to_str())
    # A whole word that the merges never build: only ignore_merges finds it.
    data["model"]["vocab"]["Ġzzqx"] = len(data["model"]["vocab"])
    data["model"]["ignore_merges"] = ignore_merges
    return data


def sentencepiece_data(byte_fallback=True, unk=True, fuse_unk=True):
    """A Llama-2 style BPE: <unk> <s> </s>, then <0x00>..<0xFF>, then trained pieces."""
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=900, limit_alphabet=70, show_progress=False)
    trainer_tok.train_from_iterator(training_text(), trainer)
    trained = json.loads(trainer_tok.to_str())["model"]
    vocab = {}
    for token in SP_SPECIALS:
        vocab[token] = len(vocab)
    if byte_fallback:
        for b in range(256):
            vocab[f"<0x{b:02X}>"] = len(vocab)
    for token, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(token, len(vocab))
    added = [
        {"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
         "special": True}
        for t in SP_SPECIALS
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
        },
        "decoder": {
            "type": "Sequence",
            "decoders": [
                {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                {"type": "ByteFallback"},
                {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0},
            ],
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<unk>" if unk else None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": fuse_unk,
            "byte_fallback": byte_fallback,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": trained["merges"],
        },
    }


LLAMA2_NORMALIZER = {
    "type": "Sequence",
    "normalizers": [
        {"type": "Prepend", "prepend": "▁"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
    ],
}


def with_added(data, tokens):
    """Appends added tokens (dicts without id) the way Hugging Face numbers them."""
    tok = Tokenizer.from_str(json.dumps(data))
    for t in tokens:
        spec = dict(t)
        special = spec.pop("special")
        if special:
            tok.add_special_tokens([AddedToken(**spec, special=True)])
        else:
            tok.add_tokens([AddedToken(**spec)])
    return json.loads(tok.to_str())


def template(bos=None, eos=None):
    single = []
    specials = []
    if bos:
        single.append(f"{bos[0]}:0")
        specials.append(bos)
    single.append("$A:0")
    if eos:
        single.append(f"{eos[0]}:0")
        specials.append(eos)
    return processors.TemplateProcessing(single=" ".join(single), special_tokens=specials)


# ---------------------------------------------------------------- tests


def test_gpt2_style_byte_level(tmp_path):
    extra = [
        AddedToken("<mask>", lstrip=True),
        AddedToken("[TOOL]", rstrip=True),
        AddedToken("hello", single_word=True),
        # Not byte-level spellings: a space, a character the byte alphabet maps to a byte, CJK.
        AddedToken("naïve word"),
        AddedToken("é"),
        AddedToken("日本", normalized=False),
    ]
    data = byte_level_tokenizer(pre_tokenizers.ByteLevel(add_prefix_space=False), CHATML_SPECIALS, extra_added=extra)
    hf = Tokenizer.from_str(json.dumps(data))
    eot = hf.token_to_id("<|endoftext|>")
    hf.post_processor = template(bos=("<|endoftext|>", eot))
    tokenizer_json = hf.to_str()
    model_dir = write_model_dir(tmp_path / "gpt2", tokenizer_json)
    assert compare(tmp_path, "gpt2", hf, model_dir, all_texts()) > 0
    compare_decode_random(hf, model_dir, hf.get_vocab_size(), seed=1)

    # The same with merges in the older "a b" string form.
    legacy = json.loads(tokenizer_json)
    legacy["model"]["merges"] = [" ".join(pair) for pair in legacy["model"]["merges"]]
    hf_legacy = Tokenizer.from_str(json.dumps(legacy))
    legacy_dir = write_model_dir(tmp_path / "gpt2-legacy", json.dumps(legacy))
    compare(tmp_path, "gpt2-legacy", hf_legacy, legacy_dir, CORPUS)


def test_gpt2_style_add_prefix_space(tmp_path):
    data = byte_level_tokenizer(pre_tokenizers.ByteLevel(add_prefix_space=True), CHATML_SPECIALS)
    hf = Tokenizer.from_str(json.dumps(data))
    model_dir = write_model_dir(tmp_path / "gpt2-prefix", hf.to_str())
    compare(tmp_path, "gpt2-prefix", hf, model_dir, all_texts())


def test_llama3_style_byte_level(tmp_path):
    specials = ["<|begin_of_text|>", "<|end_of_text|>"] + [f"<|reserved_special_token_{i}|>" for i in range(6)]
    specials += ["<|im_start|>", "<|im_end|>"]
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    data = byte_level_tokenizer(pre, specials, ignore_merges=True)
    hf = Tokenizer.from_str(json.dumps(data))
    bos = hf.token_to_id("<|begin_of_text|>")
    hf.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        template(bos=("<|begin_of_text|>", bos)),
    ])
    model_dir = write_model_dir(tmp_path / "llama3", hf.to_str())
    assert hf.encode(" zzqx", add_special_tokens=False).ids == [hf.token_to_id("Ġzzqx")]
    compare(tmp_path, "llama3", hf, model_dir, all_texts())
    compare_decode_random(hf, model_dir, hf.get_vocab_size(), seed=2)


def test_qwen2_style_nfc_byte_level(tmp_path):
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    data = byte_level_tokenizer(pre, CHATML_SPECIALS, normalizer=normalizers.NFC())
    hf = Tokenizer.from_str(json.dumps(data))
    hf.post_processor = processors.ByteLevel(trim_offsets=False)
    config = {
        "add_bos_token": False,
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "tokenizer_class": "Qwen2Tokenizer",
        "chat_template": "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}",
    }
    model_dir = write_model_dir(tmp_path / "qwen2", hf.to_str(), config)
    compare(tmp_path, "qwen2", hf, model_dir, all_texts() + nfc_strings())


def test_llama2_style_sentencepiece_legacy(tmp_path):
    data = sentencepiece_data()
    data["normalizer"] = LLAMA2_NORMALIZER
    data = with_added(data, [
        {"content": "<|im_start|>", "special": True},
        {"content": "<mask>", "lstrip": True, "special": False},
    ])
    hf = Tokenizer.from_str(json.dumps(data))
    config = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
              "tokenizer_class": "LlamaTokenizer"}
    model_dir = write_model_dir(tmp_path / "llama2", json.dumps(data), config)
    assert compare(tmp_path, "llama2", hf, model_dir, all_texts()) > 0
    compare_decode_random(hf, model_dir, hf.get_vocab_size(), seed=3, count=20)

    # add_eos_token in tokenizer_config.json: transformers rebuilds the template with EOS.
    config_eos = dict(config, add_eos_token=True)
    eos_dir = write_model_dir(tmp_path / "llama2-eos", json.dumps(data), config_eos)
    hf_eos = Tokenizer.from_str(json.dumps(data))
    hf_eos.post_processor = template(bos=("<s>", 1), eos=("</s>", 2))
    compare(tmp_path, "llama2-eos", hf_eos, eos_dir, CORPUS)

    # add_bos_token false: no BOS even though tokenizer.json's template has one.
    nobos_dir = write_model_dir(tmp_path / "llama2-nobos", json.dumps(data), dict(config, add_bos_token=False))
    hf_nobos = Tokenizer.from_str(json.dumps(data))
    hf_nobos.post_processor = template()
    compare(tmp_path, "llama2-nobos", hf_nobos, nobos_dir, CORPUS)


def test_mistral_style_metaspace_first(tmp_path):
    data = sentencepiece_data()
    data["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}
    data = with_added(data, [{"content": "[TOOL]", "special": True}, {"content": "<|im_start|>", "special": True}])
    hf = Tokenizer.from_str(json.dumps(data))
    model_dir = write_model_dir(tmp_path / "mistral", json.dumps(data))
    compare(tmp_path, "mistral", hf, model_dir, all_texts())


def test_metaspace_always_split_with_metaspace_decoder(tmp_path):
    data = sentencepiece_data()
    data["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
    data["decoder"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
    hf = Tokenizer.from_str(json.dumps(data))
    model_dir = write_model_dir(tmp_path / "metaspace", json.dumps(data))
    compare(tmp_path, "metaspace", hf, model_dir, all_texts())
    compare_decode_random(hf, model_dir, hf.get_vocab_size(), seed=4)

    # Files from before prepend_scheme existed say add_prefix_space instead.
    legacy = json.loads(json.dumps(data))
    legacy["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
    legacy["decoder"] = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
    hf_legacy = Tokenizer.from_str(json.dumps(legacy))
    legacy_dir = write_model_dir(tmp_path / "metaspace-legacy", json.dumps(legacy))
    compare(tmp_path, "metaspace-legacy", hf_legacy, legacy_dir, CORPUS)


@pytest.mark.parametrize("fuse_unk", [True, False])
def test_unknown_characters_without_byte_fallback(tmp_path, fuse_unk):
    data = sentencepiece_data(byte_fallback=False, fuse_unk=fuse_unk)
    data["normalizer"] = LLAMA2_NORMALIZER
    hf = Tokenizer.from_str(json.dumps(data))
    model_dir = write_model_dir(tmp_path / f"unk-{fuse_unk}", json.dumps(data))
    unk = hf.token_to_id("<unk>")
    assert any(unk in hf.encode(t).ids for t in CORPUS), "the corpus must contain unknown characters"
    compare(tmp_path, f"unk-{fuse_unk}", hf, model_dir, all_texts())


@pytest.mark.parametrize("behavior", ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"])
@pytest.mark.parametrize("invert", [False, True])
def test_split_behaviors(tmp_path, behavior, invert):
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\s+|\p{P}|\d"), behavior=behavior, invert=invert),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    data = byte_level_tokenizer(pre_tokenizers.ByteLevel(add_prefix_space=False), CHATML_SPECIALS)
    hf = Tokenizer.from_str(json.dumps(data))
    hf.pre_tokenizer = pre
    name = f"split-{behavior}-{invert}"
    model_dir = write_model_dir(tmp_path / name, hf.to_str())
    compare(tmp_path, name, hf, model_dir, CORPUS + stress_strings()[:40])


def test_other_normalizers_and_pre_tokenizers(tmp_path):
    """Strip and regex Replace normalizers; WhitespaceSplit, Digits, CharDelimiterSplit
    and a literal Split (Gemma style) in one pipeline."""
    data = byte_level_tokenizer(pre_tokenizers.ByteLevel(add_prefix_space=False), CHATML_SPECIALS)
    hf = Tokenizer.from_str(json.dumps(data))
    hf.normalizer = normalizers.Sequence([
        normalizers.Strip(left=True, right=True),
        normalizers.Replace(Regex(r"[ \t]{2,}"), " "),
        normalizers.Replace("x", "ks"),
    ])
    for individual in (True, False):
        hf.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(" ", behavior="merged_with_previous"),
            pre_tokenizers.CharDelimiterSplit("o"),
            pre_tokenizers.Digits(individual_digits=individual),
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=False),
        ])
        name = f"misc-{individual}"
        model_dir = write_model_dir(tmp_path / name, hf.to_str())
        compare(tmp_path, name, hf, model_dir, all_texts())


def test_plain_text_output_and_file_input(tmp_path):
    data = byte_level_tokenizer(pre_tokenizers.ByteLevel(add_prefix_space=False), CHATML_SPECIALS)
    hf = Tokenizer.from_str(json.dumps(data))
    model_dir = write_model_dir(tmp_path / "plain", hf.to_str())
    text = "Hello <|im_start|> wörld 😀\n"
    assert run_cli("--tokenizer", str(model_dir), "--text", text).split() == [str(i) for i in hf.encode(text).ids]
    document = "\n".join(CORPUS) * 40
    doc_file = tmp_path / "document.txt"
    doc_file.write_bytes(document.encode("utf-8"))
    ours = [int(x) for x in run_cli("--tokenizer", str(model_dir / "tokenizer.json"), "--file", str(doc_file)).split()]
    assert ours == hf.encode(document).ids
    # Round trip: byte-level decoding gives back the exact text.
    decoded = json.loads(run_cli("--tokenizer", str(model_dir), "--decode", ",".join(map(str, ours)), "--json"))
    assert decoded["text"] == document


def test_tiny_family_tokenizer_files(tmp_path):
    """The tokenizer files the bundled tiny model family writes (tokenizer.json
    plus its tokenizer_config.json) encode as Hugging Face encodes them."""
    import sys

    sys.path.insert(0, str(REPO / "tools" / "tiny_family"))
    tiny_tokenizer = pytest.importorskip("tiny_tokenizer")
    tok = tiny_tokenizer.train_tokenizer(training_text(), vocab_size=800)
    model_dir = tmp_path / "tiny"
    tiny_tokenizer.write_tokenizer_files(tok, model_dir, model_max_length=512)
    hf = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    compare(tmp_path, "tiny", hf, model_dir, all_texts())


def test_nfc_tables_are_generated_from_unicode_data():
    import tokenizer_unicode_tables

    committed = (REPO / "src" / "eval" / "unicode_nfc_tables.cpp").read_text(encoding="utf-8")
    assert committed == tokenizer_unicode_tables.generate(), (
        "src/eval/unicode_nfc_tables.cpp is stale; regenerate it with tests/interop/tokenizer_unicode_tables.py"
    )
