"""Hugging Face `LlamaForCausalLM` folders, out and in.

tinylm's Llama uses HF's parameter names and HF's rotate-half RoPE, so the weights copy across
unchanged (tests check logits agree to 1e-4 with transformers). The folder gets the files
`transformers.pipeline('text-generation', model=DIR)` needs: config.json, generation_config.json,
model.safetensors, tokenizer.json, tokenizer_config.json and special_tokens_map.json; and a
README.md model card for the hub.

Import takes any small Llama folder with safetensors weights (pickled pytorch_model.bin files
are refused: loading them can run arbitrary code) and refuses configs whose maths tinylm does
not implement (RoPE scaling, biases, other activations, experts) rather than computing
something else quietly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tinylm.checkpoint import MODEL_FILE, model_tensors, read_tensors, save_tensors
from tinylm.config import ModelConfig
from tinylm.errors import TinylmError
from tinylm.fileio import atomic_folder, atomic_write_json, atomic_write_text, check_output_folder
from tinylm.framing import BOS_EOS, check_framing
from tinylm.interop.runs import check_tokenizer_fits, write_imported_run
from tinylm.interop.tokenizer_files import load_tokenizer_file
from tinylm.run import TOKENIZER_FILE
from tinylm.tokenizer import Tokenizer
from tinylm.version import __version__

ARCHITECTURE = "LlamaForCausalLM"
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
HF_DTYPE_NAMES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
# Config keys that would change the maths; each is refused unless it has the plain-Llama value.
PLAIN_VALUES: dict[str, tuple[Any, ...]] = {
    "hidden_act": ("silu",),
    "attention_bias": (False, None),
    "mlp_bias": (False, None),
    "rope_scaling": (None,),
    "num_local_experts": (None, 0, 1),
    "num_experts": (None, 0, 1),
    "n_routed_experts": (None, 0),
    "sliding_window": (None,),
}

# tinylm's own key in an exported config.json: the story framing the model was trained on.
FRAMING_KEY = "tinylm_framing"


# -- export -----------------------------------------------------------------------------------


def hf_config(cfg: ModelConfig, tokenizer: Tokenizer, dtype: str = "fp32") -> dict[str, Any]:
    return {
        "architectures": [ARCHITECTURE],
        "model_type": "llama",
        "hidden_size": cfg.dim,
        "intermediate_size": cfg.hidden_dim,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        "vocab_size": cfg.vocab_size,
        "max_position_embeddings": cfg.max_seq_len,
        "rms_norm_eps": cfg.norm_eps,
        # transformers 4 reads rope_theta / rope_scaling, transformers 5 rope_parameters.
        "rope_theta": cfg.rope_theta,
        "rope_scaling": None,
        "rope_parameters": {"rope_type": "default", "rope_theta": cfg.rope_theta},
        "tie_word_embeddings": cfg.tie_embeddings,
        "hidden_act": "silu",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "pretraining_tp": 1,
        "initializer_range": 0.02,
        "bos_token_id": tokenizer.bos_id,
        "eos_token_id": tokenizer.eos_id,
        "pad_token_id": tokenizer.pad_id,
        "torch_dtype": HF_DTYPE_NAMES[dtype],
        "use_cache": True,
        "tinylm_version": __version__,
    }


def generation_config(cfg: ModelConfig, tokenizer: Tokenizer) -> dict[str, Any]:
    # Stop at BOS as well as EOS, as tinylm does: a BOS starts the next story.
    stops = [tokenizer.eos_id]
    if tokenizer.bos_id is not None and tokenizer.bos_id != tokenizer.eos_id:
        stops.append(tokenizer.bos_id)
    return {
        "bos_token_id": tokenizer.bos_id,
        "eos_token_id": stops,
        "pad_token_id": tokenizer.pad_id if tokenizer.pad_id is not None else tokenizer.eos_id,
        # Without a length transformers stops after 20 tokens; a story fills the context.
        "max_length": cfg.max_seq_len,
    }


def special_tokens(tokenizer: Tokenizer) -> dict[str, str]:
    def name(token: int | None) -> str | None:
        return tokenizer.hf.id_to_token(token) if token is not None else None

    unk = tokenizer.hf.token_to_id("<unk>")
    found = {
        "bos_token": name(tokenizer.bos_id),
        "eos_token": name(tokenizer.eos_id),
        "unk_token": name(unk),
        "pad_token": name(tokenizer.pad_id if tokenizer.pad_id is not None else tokenizer.eos_id),
    }
    return {k: v for k, v in found.items() if v is not None}


def export_hf(
    model: nn.Module,
    tokenizer: Tokenizer,
    out: str | Path,
    dtype: str = "fp32",
    framing: str = BOS_EOS,
    card: str | None = None,
) -> Path:
    """`framing` goes into config.json as `tinylm_framing` (transformers keeps unknown keys), so
    importing the folder again scores the model as it was trained. `card`: the README.md model
    card (`tinylm.interop.model_card`), written with the rest, so a folder is never half a
    release."""
    out = Path(out)
    check_output_folder(out)
    cfg: ModelConfig = model.config
    if cfg.arch != "llama":
        raise TinylmError(f"Hugging Face export covers Llama models; this run is '{cfg.arch}'")
    check_tokenizer_fits(tokenizer, cfg.vocab_size, "of this run")
    with atomic_folder(out, "export") as tmp:
        weights = model_tensors(model.state_dict(), cfg.tie_embeddings)
        tensors = {k: v.to(DTYPES[dtype]) for k, v in weights.items()}
        save_tensors(tmp / MODEL_FILE, tensors, {"format": "pt"})
        config = {**hf_config(cfg, tokenizer, dtype), FRAMING_KEY: framing}
        atomic_write_json(tmp / "config.json", config)
        atomic_write_json(tmp / "generation_config.json", generation_config(cfg, tokenizer))
        tokenizer.save(tmp / TOKENIZER_FILE)
        specials = special_tokens(tokenizer)
        atomic_write_json(
            tmp / "tokenizer_config.json",
            {
                # Loads tokenizer.json exactly as written (no class-specific rebuilding).
                "tokenizer_class": "PreTrainedTokenizerFast",
                "model_max_length": cfg.max_seq_len,
                "clean_up_tokenization_spaces": False,
                **specials,
            },
        )
        atomic_write_json(tmp / "special_tokens_map.json", specials)
        if card is not None:
            atomic_write_text(tmp / "README.md", card)
    return out


# -- import -----------------------------------------------------------------------------------


def read_hf_config(folder: Path) -> ModelConfig:
    path = folder / "config.json"
    if not path.is_file():
        raise TinylmError(f"{folder} has no config.json; pass a Hugging Face model folder")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise TinylmError(f"{path} is not valid JSON") from None
    if not isinstance(raw, dict):
        raise TinylmError(f"{path} is not a model config (not a JSON object)")
    architectures = raw.get("architectures") or []
    model_type = raw.get("model_type")
    if model_type != "llama" or (architectures and ARCHITECTURE not in architectures):
        what = ", ".join(architectures) or "an unnamed model"
        raise TinylmError(
            f"{path} describes {what} (model_type '{model_type}'); tinylm imports "
            f"{ARCHITECTURE} models only"
        )
    for key, allowed in PLAIN_VALUES.items():
        if raw.get(key) not in allowed:
            raise TinylmError(
                f"{path}: {key} = {json.dumps(raw.get(key))} is not supported (tinylm's Llama "
                f"has {json.dumps(allowed[0])}); this model would compute something else here"
            )
    rope = raw.get("rope_parameters") or {}
    if rope.get("rope_type", "default") != "default":
        raise TinylmError(
            f"{path}: rope_type '{rope.get('rope_type')}' (RoPE scaling) is not supported; "
            "tinylm implements plain RoPE"
        )
    required = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
    for key in (*required, "vocab_size"):
        if not isinstance(raw.get(key), int):
            raise TinylmError(f"{path} has no integer '{key}'; it is not a complete Llama config")
    n_heads = raw["num_attention_heads"]
    head_dim = raw.get("head_dim") or raw["hidden_size"] // n_heads
    if head_dim * n_heads != raw["hidden_size"]:
        raise TinylmError(
            f"{path}: head_dim {head_dim} x {n_heads} heads != hidden_size {raw['hidden_size']}; "
            "tinylm's Llama needs head_dim = hidden_size / num_attention_heads"
        )
    cfg = ModelConfig(
        dim=raw["hidden_size"],
        n_layers=raw["num_hidden_layers"],
        n_heads=n_heads,
        n_kv_heads=raw.get("num_key_value_heads") or n_heads,
        vocab_size=raw["vocab_size"],
        hidden_dim=raw["intermediate_size"],
        max_seq_len=raw.get("max_position_embeddings") or 2048,
        norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
        rope_theta=float(rope.get("rope_theta") or raw.get("rope_theta") or 10000.0),
        # LlamaConfig's default is untied.
        tie_embeddings=bool(raw.get("tie_word_embeddings", False)),
    )
    try:
        cfg.validate()
    except TinylmError as exc:
        raise TinylmError(f"{path}: {exc}") from None
    return cfg


def read_hf_weights(folder: Path) -> dict[str, torch.Tensor]:
    single = folder / MODEL_FILE
    index = folder / "model.safetensors.index.json"
    if single.is_file():
        files = [single]
    elif index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
            raise TinylmError(f"{index} is not a safetensors index (no weight_map)") from None
        files = [folder / name for name in sorted(set(weight_map.values()))]
    elif any(folder.glob("pytorch_model*.bin")) or any(folder.glob("*.pt")):
        raise TinylmError(
            f"{folder} holds pickled PyTorch weights only; tinylm never unpickles files. Save "
            "them as safetensors first: model.save_pretrained(DIR, safe_serialization=True)"
        )
    else:
        raise TinylmError(f"{folder} has no model.safetensors; not a Hugging Face model folder")
    tensors: dict[str, torch.Tensor] = {}
    for file in files:
        part, _ = read_tensors(file)
        tensors.update(part)
    # Old checkpoints carry RoPE's inverse frequencies as a buffer; tinylm recomputes them.
    return {k: v for k, v in tensors.items() if not k.endswith("rotary_emb.inv_freq")}


def find_tokenizer(folder: Path) -> Path:
    for name in (TOKENIZER_FILE, "tokenizer.model"):
        if (folder / name).is_file():
            return folder / name
    raise TinylmError(
        f"{folder} has no tokenizer.json or tokenizer.model; pass one with --tokenizer FILE"
    )


def import_hf(
    folder: str | Path,
    out: str | Path,
    tokenizer_path: str | Path | None = None,
    framing: str | None = None,
) -> Path:
    """A Llama folder's framing is not recorded in it; models in this ecosystem end a document
    with EOS (generation stops there), so "bos+eos" unless `framing` says otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TinylmError(f"Hugging Face model folder not found: {folder}")
    cfg = read_hf_config(folder)
    tensors = read_hf_weights(folder)
    if not cfg.tie_embeddings and "lm_head.weight" not in tensors:
        raise TinylmError(
            f"{folder}: config.json says tie_word_embeddings is false but there is no "
            "lm_head.weight; the weights are incomplete"
        )
    tokenizer = load_tokenizer_file(tokenizer_path or find_tokenizer(folder))
    source = {"format": "hf", "path": str(folder), "tokenizer": str(tokenizer.source)}
    raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))  # checked above
    recorded = str(raw.get(FRAMING_KEY, BOS_EOS))
    framing = framing or check_framing(recorded, f"{FRAMING_KEY} in {folder / 'config.json'}")
    return write_imported_run(out, cfg, tensors, tokenizer, source, framing)


def export_adapter(run_dir: str | Path, out: str | Path) -> list[str]:
    """`export --format hf --adapter-only`: a LoRA run's adapters as a PEFT adapter folder
    (adapter_model.safetensors + adapter_config.json), loadable with
    `peft.PeftModel.from_pretrained(base, out)` on the base model's own HF export."""
    from tinylm.lora_spec import ADAPTER_CONFIG, ADAPTER_FILE

    run, out = Path(run_dir), Path(out)
    if not (run / ADAPTER_FILE).is_file() or not (run / ADAPTER_CONFIG).is_file():
        raise TinylmError(
            f"{run} has no LoRA adapters ({ADAPTER_FILE}); --adapter-only exports a run "
            "fine-tuned with `tinylm finetune BASE --lora-rank N`; drop --adapter-only to "
            "export the whole model"
        )
    check_output_folder(out)
    with atomic_folder(out, "export") as tmp:
        for name in (ADAPTER_FILE, ADAPTER_CONFIG):
            shutil.copyfile(run / name, tmp / name)
    base = json.loads((out / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    return [
        f"exported the LoRA adapters of {run} to {out} (PEFT, rank {base['r']})",
        "use them: peft.PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(BASE_HF), "
        f"'{out}'), BASE_HF being `tinylm export {base['base_model_name_or_path'] or 'BASE'} "
        "--format hf`",
    ]
