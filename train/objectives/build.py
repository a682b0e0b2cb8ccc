"""Which objective a run uses: built from its config and tokenizer (training, evaluate), or read back from
a saved run config (export, generate, load). Special tokens missing from the tokenizer: one line."""

from __future__ import annotations

import os
from typing import Any

from tokenizers import Tokenizer

from openpretrain.errors import UserError
from openpretrain.special_tokens import FIM_END, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, MASK, OBJECTIVE_TOKENS
from train.objectives.config import ObjectiveConfig, ObjectiveName
from train.objectives.fim import FimTokens
from train.objectives.mlm import MaskingRule
from train.objectives.objective import FimObjective, MlmObjective, Objective


def special_ids(tokenizer: Tokenizer, objective: ObjectiveName, tokenizer_path: str) -> dict[str, int]:
    """The ids of the objective's special tokens; a tokenizer without them is refused in one line."""
    needed = OBJECTIVE_TOKENS.get(objective.value, ())
    ids = {token: tokenizer.token_to_id(token) for token in needed}
    missing = [token for token, token_id in ids.items() if token_id is None]
    if missing:
        raise UserError(f"objective={objective.value} needs the special tokens {', '.join(missing)}, which "
                        f"{tokenizer_path} lacks: prepare the data with "
                        f"tokenizer.objective_tokens=[{objective.value}] (python -m data_prep ...)")
    return ids  # type: ignore[return-value]


def build_objective(cfg: ObjectiveConfig, seed: int, tokenizer: Tokenizer, tokenizer_path: str, eos_id: int,
                    bos_id: int | None, ignore_index: int) -> Objective:
    ids = special_ids(tokenizer, cfg.name, tokenizer_path)
    if cfg.name == ObjectiveName.fim:
        tokens = FimTokens(ids[FIM_PREFIX], ids[FIM_SUFFIX], ids[FIM_MIDDLE], ids[FIM_END])
        return FimObjective(cfg, seed, ignore_index, tokens, eos_id)
    if cfg.name == ObjectiveName.mlm:
        specials = {eos_id, ids[MASK], *(i for i in (bos_id,) if i is not None)}
        specials |= {tokenizer.token_to_id(t) for ts in OBJECTIVE_TOKENS.values() for t in ts} - {None}
        rule = MaskingRule(cfg.mlm.probability, cfg.mlm.mask_rate, cfg.mlm.random_rate, ids[MASK],
                           tuple(sorted(specials)), tokenizer.get_vocab_size(with_added_tokens=True))
        return MlmObjective(cfg, seed, ignore_index, rule)
    return Objective(cfg, seed, ignore_index)



def trained_objective(config: Any) -> str:
    """The objective a run was trained with, from its saved resolved config (causal LM before objectives)."""
    objective = (config or {}).get("objective") or {}
    return str(objective.get("name", ObjectiveName.clm.value))


def refuse_mlm_export(config: Any, checkpoint: str) -> None:
    if trained_objective(config) == ObjectiveName.mlm.value:
        raise UserError(f"{checkpoint} was trained with objective=mlm (bidirectional attention): no standard "
                        "Hugging Face class computes its logits exactly, so it is not exported (docs/objectives.md)")


def objective_config(section: Any) -> ObjectiveConfig:
    """A typed ObjectiveConfig from a run's saved resolved config section (none saved: causal LM)."""
    from omegaconf import OmegaConf

    from openpretrain.cli import CONFIG_PATH

    base = OmegaConf.load(os.path.join(CONFIG_PATH, "objective", "clm.yaml"))
    merged = OmegaConf.merge(OmegaConf.structured(ObjectiveConfig), base, section or {})
    return OmegaConf.to_object(merged)  # type: ignore[return-value]


def run_objective(cfg: Any, info: Any) -> Objective:
    """The objective of a training run (cfg: TrainConfig, info: train.data.DataInfo)."""
    from train.data.batches import IGNORE_INDEX

    if cfg.objective.name not in (ObjectiveName.fim, ObjectiveName.mlm):  # CLM needs no special token
        return Objective(cfg.objective, cfg.seed, IGNORE_INDEX)
    tokenizer = Tokenizer.from_file(info.tokenizer_path)
    bos_id = info.manifests[0].tokenizer.bos_id if info.manifests else None
    return build_objective(cfg.objective, cfg.seed, tokenizer, info.tokenizer_path, info.eos_id, bos_id, IGNORE_INDEX)
