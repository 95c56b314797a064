#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

  fuzz/make_seeds.py PARAMDELTA_PROGRAM

Seeds are small valid inputs of every shape the parsers know (plus a few
near-misses), so that fuzzing starts from deep inside each format. The delta
manifests are written by the real program on the same two small models as the
fuzz_manifest target's fixture, so that the fixture's tensor files match them.
Only the standard library is used."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"


def image(header: dict | str, data: bytes) -> bytes:
    text = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw + data


def put(target: str, name: str, content: bytes | str) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(content.encode() if isinstance(content, str) else content)


def u16s(values) -> bytes:
    return b"".join(struct.pack("<H", v) for v in values)


def fixture_model(directory: Path, a_bits) -> None:
    """The models of fuzz_manifest.cpp's fixture, byte for byte."""
    directory.mkdir(parents=True)
    header = ('{"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},'
              '"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]},'
              '"n":{"dtype":"I64","shape":[1],"data_offsets":[20,28]}}')
    (directory / "model.safetensors").write_bytes(image(header, u16s(a_bits) + b"\0" * 8 + b"\1" * 8))
    (directory / "config.json").write_text("{}")


def safetensors_seeds() -> None:
    two = {"__metadata__": {"format": "pt"},
           "a": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
           "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}}
    every_dtype = {}
    offset = 0
    for dtype, size in [("BOOL", 1), ("U8", 1), ("I8", 1), ("U16", 2), ("I16", 2), ("U32", 4), ("I32", 4),
                        ("U64", 8), ("I64", 8), ("F8_E4M3", 1), ("F8_E5M2", 1), ("F16", 2), ("BF16", 2),
                        ("F32", 4), ("F64", 8)]:
        every_dtype["t_" + dtype] = {"dtype": dtype, "shape": [2], "data_offsets": [offset, offset + 2 * size]}
        offset += 2 * size
    edge = {"scalar": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},
            "empty": {"dtype": "F32", "shape": [0, 3], "data_offsets": [4, 4]},
            "also_empty": {"dtype": "U8", "shape": [0], "data_offsets": [4, 4]}}
    seeds = {
        "two_tensors": image(two, bytes(range(20))),
        "every_dtype": image(every_dtype, bytes(range(offset))),
        "edge_shapes": image(edge, b"\0\0\x80\x3f"),
        "empty_header": image({}, b""),
        "metadata_only": image({"__metadata__": {"format": "pt", "k": "v"}}, b""),
        "padded_header": image(json.dumps(two) + " " * 7, bytes(range(20))),
        "gap": image({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                      "b": {"dtype": "U8", "shape": [2], "data_offsets": [3, 5]}}, b"\0" * 5),
        "overlap": image({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                          "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, b"\0" * 3),
        "huge_claim": image({"a": {"dtype": "F32", "shape": [1 << 58], "data_offsets": [0, 1 << 60]}}, b"\0" * 8),
        "duplicate": image('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                           '"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\0"),
        # Legal as the reference reader reads them: whitespace before the
        # object, null metadata, an empty tensor name.
        "leading_whitespace": image(" \n\t\r" + json.dumps(two), bytes(range(20))),
        "null_metadata": image('{"__metadata__":null,"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
                               b"\0" * 4),
        "empty_name": image('{"":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', b"\0\1"),
        # A NUL byte ends the text for some JSON parsers: what follows must not pass unread.
        "nul_padding": image(json.dumps(two) + "\0\0\0", bytes(range(20))),
    }
    for target in ("fuzz_safetensors_header", "fuzz_safetensors_file"):
        for name, content in seeds.items():
            put(target, name, content)


def index_seeds() -> None:
    s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    put("fuzz_index_json", "valid", json.dumps({"metadata": {"total_size": 15},
                                                "weight_map": {"a": s1, "b": s1, "c": s2}}, indent=2))
    put("fuzz_index_json", "one_shard", json.dumps({"weight_map": {"a": s1, "b": s1}}))
    put("fuzz_index_json", "escape", json.dumps({"weight_map": {"a": "../outside.safetensors"}}))
    put("fuzz_index_json", "claimed_twice", json.dumps({"weight_map": {"a": s2, "b": s1, "c": s2}}))


def manifest_seeds(program: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fixture_model(root / "base", [0x3F80, 0x4000, 0x4380, 0xBF80, 0x0000, 0x3E80])
        fixture_model(root / "post", [0x3A81, 0x4000, 0x3A80, 0xBF00, 0x8000, 0x3E81])
        run = lambda *args: subprocess.run([program, *map(str, args)], check=True, capture_output=True)
        run("compute", "--base", root / "base", "--post", root / "post", "-o", root / "exact", "-q")
        run("compute", "--base", root / "base", "--post", root / "post", "-o", root / "plain", "-q",
            "--delta-dtype", "bf16")
        run("combine", "--delta", root / "exact", "--delta", root / "exact", "--weight", "0.5", "--weight", "0.5",
            "-o", root / "combined", "-q")
        for name in ("exact", "plain", "combined"):
            put("fuzz_manifest", name, (root / name / "paramdelta.json").read_bytes())


def tokenizer_seeds() -> None:
    def doc(model, **parts):
        base = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
                "pre_tokenizer": None, "post_processor": None, "decoder": None, "model": model}
        base.update(parts)
        return json.dumps(base)

    def bpe(tokens, merges, **extra):
        model = {"type": "BPE", "dropout": None, "unk_token": None, "fuse_unk": False, "byte_fallback": False,
                 "ignore_merges": False, "vocab": {t: i for i, t in enumerate(tokens)}, "merges": merges}
        model.update(extra)
        return model

    def added(i, content, special=True):
        return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": special}

    # Byte-level BPE (GPT-2 / Llama-3 style): the 256 byte symbols, a few merges.
    byte_symbols = []
    for b in range(256):
        if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255:
            byte_symbols.append(chr(b))
    n = 0
    for b in range(256):
        if not (33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255):
            byte_symbols.append(chr(256 + n))
            n += 1
    tokens = byte_symbols + ["He", "ll", "Hell", "Hello", "\u0120w", "\u0120wo"]
    merges = ["H e", "l l", "He ll", "Hell o", "\u0120 w", "\u0120w o"]
    byte_level = doc(bpe(tokens, merges), added_tokens=[added(len(tokens), "<|begin_of_text|>")],
                     pre_tokenizer={"type": "Sequence", "pretokenizers": [
                         {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
                          "behavior": "Isolated", "invert": False},
                         {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
                     decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
                     post_processor={"type": "TemplateProcessing",
                                     "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                                {"Sequence": {"id": "A", "type_id": 0}}],
                                     "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                                              {"Sequence": {"id": "B", "type_id": 1}}],
                                     "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>",
                                                                              "ids": [len(tokens)],
                                                                              "tokens": ["<|begin_of_text|>"]}}})
    # SentencePiece-style BPE (Llama-2 / Mistral): metaspace, byte fallback.
    sp_tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + \
        ["\u2581", "a", "b", "\u2581a", "ab", "\u2581ab"]
    sentencepiece = doc(bpe(sp_tokens, ["\u2581 a", "a b", "\u2581a b"], unk_token="<unk>", fuse_unk=True,
                            byte_fallback=True),
                        added_tokens=[added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")],
                        normalizer={"type": "Sequence", "normalizers": [
                            {"type": "Prepend", "prepend": "\u2581"},
                            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
                        decoder={"type": "Sequence", "decoders": [
                            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                            {"type": "ByteFallback"}, {"type": "Fuse"},
                            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
                        post_processor={"type": "TemplateProcessing",
                                        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                   {"Sequence": {"id": "A", "type_id": 0}}],
                                        "pair": [{"Sequence": {"id": "A", "type_id": 0}}],
                                        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}})
    metaspace = doc(bpe(["\u2581", "a", "b", "\u2581a"], ["\u2581 a"]),
                    pre_tokenizer={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
                                   "split": False},
                    decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False})
    digits = doc(bpe(["1", "2", "3", "a"], []), normalizer={"type": "NFC"},
                 pre_tokenizer={"type": "Digits", "individual_digits": True})
    minimal = doc(bpe(["a", "b", "c", "ab", "abc"], ["a b", "ab c"]), added_tokens=[added(5, "<s>")])
    for name, text in [("byte_level", byte_level), ("sentencepiece", sentencepiece), ("metaspace", metaspace),
                       ("digits", digits), ("minimal", minimal)]:
        put("fuzz_tokenizer", name, text)


def config_seeds() -> None:
    llama = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32000, "hidden_size": 4096,
             "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
             "num_key_value_heads": 32, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
             "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": False, "bos_token_id": 1,
             "eos_token_id": 2, "torch_dtype": "bfloat16"}
    llama3 = dict(llama, vocab_size=128256, num_key_value_heads=8, intermediate_size=14336, rope_theta=500000.0,
                  max_position_embeddings=131072, eos_token_id=[128001, 128008, 128009], bos_token_id=128000,
                  rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})
    mistral = dict(llama, architectures=["MistralForCausalLM"], model_type="mistral", num_key_value_heads=8,
                   intermediate_size=14336, sliding_window=4096, max_position_embeddings=32768)
    qwen2 = dict(llama, architectures=["Qwen2ForCausalLM"], model_type="qwen2", vocab_size=151936,
                 hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, tie_word_embeddings=True, use_sliding_window=False,
                 rope_theta=1000000.0)
    linear = dict(llama, rope_scaling={"type": "linear", "factor": 2.0}, attention_bias=True, mlp_bias=True,
                  head_dim=128)
    for name, config in [("llama", llama), ("llama3", llama3), ("mistral", mistral), ("qwen2", qwen2),
                         ("linear_rope", linear)]:
        put("fuzz_model_config", name, json.dumps(config, indent=2))


def chat_template_seeds() -> None:
    templates = {
        "chatml": "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] "
                  "+ '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
                  "{% endif %}",
        "inst": "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
                "(loop.index0 % 2 == 0) %}{{ raise_exception('roles must alternate') }}{% endif %}"
                "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] | trim + ' [/INST]' }}"
                "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] | trim + eos_token }}"
                "{% endif %}{% endfor %}",
        "headers": "{% set loop_messages = messages %}{% for message in loop_messages %}"
                   "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
                   "message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
                   "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
                   "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
        "system_first": "{%- if messages[0]['role'] == 'system' -%}{%- set system = messages[0]['content'] -%}"
                        "{%- set rest = messages[1:] -%}{%- else -%}{%- set system = none -%}{%- set rest = messages -%}"
                        "{%- endif -%}{%- for m in rest -%}{%- if loop.first and system is not none -%}"
                        "{{ system ~ '\\n\\n' }}{%- endif -%}{{ m.role ~ ': ' ~ m.content.strip() ~ '\\n' }}"
                        "{%- if loop.last and add_generation_prompt %}assistant:{% endif -%}{%- endfor -%}",
        "loops": "{# counting #}{% for m in messages %}{{ loop.index }}/{{ loop.length }} {{ loop.revindex0 }}"
                 "{% if not loop.last %}, {% endif %}{% if m.role in ['user', 'system'] %}U{% else %}A{% endif %}"
                 "{% endfor %}{{ messages | length }}{{ [1, 2, 3][-1] * 2 - 1 }}{{ 'abc'[1:] }}",
    }
    for name, text in templates.items():
        put("fuzz_chat_template", name, text)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    program = sys.argv[1]
    for target in ("fuzz_safetensors_header", "fuzz_safetensors_file", "fuzz_index_json", "fuzz_manifest",
                   "fuzz_tokenizer", "fuzz_model_config", "fuzz_chat_template"):
        shutil.rmtree(CORPUS / target, ignore_errors=True)
    safetensors_seeds()
    index_seeds()
    manifest_seeds(program)
    tokenizer_seeds()
    config_seeds()
    chat_template_seeds()


if __name__ == "__main__":
    main()
