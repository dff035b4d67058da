"""A byte-level BPE tokenizer trained from scratch, saved as an HF tokenizer directory.

Byte-level: any UTF-8 text (Chinese included) encodes without unknown tokens. Digits are split
one per token so that the small models see numbers in a form they can learn arithmetic on.
The chat template is ChatML with a thinking block: every assistant turn is rendered with
`<think>...</think>` (empty when the record has none), so the generation prompt can switch
thinking on (`enable_thinking=True`: the prompt opens `<think>`), off (`False`: the prompt holds
an empty block) or leave it to the model (undefined) — and the template stays prefix-stable,
which data.encode_chat needs to find assistant tokens.
"""
from __future__ import annotations

import os
from typing import Iterable

from ..core.errors import ConfigError, DataError
from ..core.io import atomic_dir
from ..inference.engine import THINK_CLOSE, THINK_OPEN, has_token  # the engine enforces the thinking rule on them

DOC_END = "<|endoftext|>"          # separates documents in packed pretraining text
IM_START, IM_END, PAD = "<|im_start|>", "<|im_end|>", "<|pad|>"
SPECIAL_TOKENS = [DOC_END, IM_START, IM_END, PAD]
EMPTY_THINK = THINK_OPEN + "\n\n" + THINK_CLOSE + "\n\n"

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{%- set content = message['content'] -%}"
    "{%- if not content.startswith('<think>') -%}"
    "{%- set content = '<think>\\n\\n</think>\\n\\n' + content -%}"
    "{%- endif -%}"
    "{{ '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' }}"
    "{%- else -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false -%}"
    "{{ '<think>\\n\\n</think>\\n\\n' }}"
    "{%- elif enable_thinking is defined and enable_thinking is true -%}"
    "{{ '<think>\\n' }}"
    "{%- endif -%}"
    "{%- endif -%}")


def train_tokenizer(texts: Iterable[str], out_dir: str | os.PathLike, vocab_size: int = 4096,
                    overwrite: bool = False):
    """Train byte-level BPE on `texts`; save a PreTrainedTokenizerFast dir; return it."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 256 + len(SPECIAL_TOKENS) + 2:
        raise ConfigError(f"vocab_size must be at least {256 + len(SPECIAL_TOKENS) + 2} "
                          f"(256 bytes + special tokens), got {vocab_size}")
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise DataError("no text to train the tokenizer on")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 2, special_tokens=SPECIAL_TOKENS, min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    # Not special: decode(skip_special_tokens=True) keeps the thinking visible.
    tok.add_tokens([AddedToken(t, special=False, normalized=False)
                    for t in (THINK_OPEN, THINK_CLOSE)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=IM_END, pad_token=PAD,
                                   unk_token=None, bos_token=None)
    fast.add_special_tokens({"additional_special_tokens": [IM_START, DOC_END]})
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = 1 << 20
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        fast.save_pretrained(tmp)
    return fast


def token_id(tokenizer, token: str) -> int:
    """Id of a token the scratch tokenizer is known to carry (a clear error otherwise)."""
    if not has_token(tokenizer, token):
        raise DataError(f"tokenizer has no {token} token (train one with `smolmoe scratch tokenizer`)")
    return tokenizer.convert_tokens_to_ids(token)
