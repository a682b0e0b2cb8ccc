"""Contract between data_prep and train: the special tokens that objectives other than causal LM need.

data_prep adds them to the tokenizer when asked (``tokenizer.objective_tokens=[fim,mlm]``); train looks
them up by string in the run's ``tokenizer.json`` and refuses, in one line, a tokenizer that lacks them.
"""

from __future__ import annotations

FIM_PREFIX = "<|fim_prefix|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_END = "<|fim_end|>"  # closes the middle: infilling generation stops here
MASK = "<|mask|>"

# objective name -> the tokens it needs, in the order they are appended to the vocabulary
OBJECTIVE_TOKENS: dict[str, tuple[str, ...]] = {
    "fim": (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FIM_END),
    "mlm": (MASK,),
}


def tokens_for(objectives: list[str]) -> list[str]:
    """The special tokens of the named objectives, deduplicated, in a fixed order."""
    out: list[str] = []
    for name in objectives:
        for token in OBJECTIVE_TOKENS[name]:
            if token not in out:
                out.append(token)
    return out
