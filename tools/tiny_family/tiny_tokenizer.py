"""Trains the family's byte-level BPE tokenizer and writes the Hugging Face
tokenizer files every model directory carries.

GPT-2 style: ByteLevel pre-tokenizer (its built-in split regex, no prefix
space), BPE without unknown token, ByteLevel decoder. No BOS is ever added:
there is no template post-processor and add_bos_token is false, so encoding a
prompt gives the same ids with or without special tokens, and a chat prompt
string rendered by the template can be evaluated as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, List

from tiny_data import CHAT_TEMPLATE, END, EOT, SPECIAL_TOKENS


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def special_ids(tok) -> dict:
    return {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}


def write_tokenizer_files(tok, out_dir: Path, model_max_length: int) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tok.save(str(out_dir / "tokenizer.json"))
    added = {}
    for t in SPECIAL_TOKENS:
        added[str(tok.token_to_id(t))] = {
            "content": t, "lstrip": False, "normalized": False, "rstrip": False,
            "single_word": False, "special": True,
        }
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "add_bos_token": False,
        "add_eos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "bos_token": EOT,
        "eos_token": END,
        "pad_token": EOT,
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
        "chat_template": CHAT_TEMPLATE,
    }
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    special_map = {"bos_token": EOT, "eos_token": END, "pad_token": EOT}
    (out_dir / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2) + "\n")


def encode_many(tok, texts: List[str]) -> List[List[int]]:
    return [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
