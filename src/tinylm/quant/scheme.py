"""What a quantization is: the scheme (int8 or int4), the group size, and whether the token
embeddings and the output layer are quantized too or kept in float. Recorded in a quantized
run's config.json under "quantization"; norms always stay fp32."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tinylm.config import ModelConfig
from tinylm.errors import TinylmError

SCHEMES = {"int8": 8, "int4": 4}
# int4 packs 32 weights into 16 bytes as GGUF's Q4_0 does, so its groups hold whole blocks.
INT4_BLOCK = 32
# llama2.c's export.py starts at 64 for its Q8_0 and halves until the group divides the model's
# width; Q4_0's block is 32. Both are the defaults of the formats they export to.
DEFAULT_GROUP = {"int8": 64, "int4": 32}
CHANNEL = 0  # group_size 0: one scale per output channel (a whole row)


@dataclass(frozen=True)
class QuantSpec:
    scheme: str  # int8 | int4
    group_size: int  # weights per scale along a row; CHANNEL (0): the whole row
    embeddings: bool = True  # token embeddings quantized (else kept fp32)
    output: bool = True  # output layer quantized (else kept fp32)

    @property
    def bits(self) -> int:
        return SCHEMES[self.scheme]

    def group_for(self, width: int) -> int:
        """The group size for rows of `width` values."""
        return width if self.group_size == CHANNEL else self.group_size

    def describe(self) -> str:
        group = "per channel" if self.group_size == CHANNEL else f"groups of {self.group_size}"
        kept = [
            name for name, q in (("embeddings", self.embeddings), ("output", self.output)) if not q
        ]
        return f"{self.scheme}, {group}" + (f", {' and '.join(kept)} kept in fp32" if kept else "")

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            # what a reader needs to know to compute with it
            "activations": "int8 per group at each product (Q8_0, as llama.cpp and runq.c)",
        }

    @classmethod
    def from_json(cls, record: Any, where: str) -> QuantSpec:
        if not isinstance(record, dict):
            raise TinylmError(f"{where}: 'quantization' is not a table; the run is damaged")
        try:
            spec = cls(
                scheme=str(record["scheme"]),
                group_size=int(record["group_size"]),
                embeddings=bool(record.get("embeddings", True)),
                output=bool(record.get("output", True)),
            )
        except (KeyError, TypeError, ValueError):
            raise TinylmError(
                f"{where}: 'quantization' needs a scheme and a group_size; the run is damaged"
            ) from None
        if spec.scheme not in SCHEMES:
            raise TinylmError(
                f"{where}: unknown quantization scheme '{spec.scheme}' (this tinylm knows "
                f"{', '.join(SCHEMES)}); upgrade tinylm or quantize the float run again"
            )
        return spec


def check_scheme(scheme: str, flag: str = "--scheme") -> str:
    if scheme not in SCHEMES:
        raise TinylmError(f"unknown {flag} '{scheme}'; choose one of {', '.join(SCHEMES)}")
    return scheme


def quantized_widths(cfg: ModelConfig) -> dict[str, int]:
    """The row widths of the matrices a quantization splits into groups: every linear layer reads
    dim or hidden_dim values."""
    assert cfg.hidden_dim is not None
    return {"dim": cfg.dim, "hidden_dim": cfg.hidden_dim}


def choose_spec(
    cfg: ModelConfig,
    scheme: str,
    group_size: int | None,
    keep_embeddings: bool = False,
    keep_output: bool = False,
) -> QuantSpec:
    """The spec for quantizing a model of `cfg`: `group_size` None picks the default (int8:
    halving from 64 until it divides dim and hidden_dim, as llama2.c's export does for dim);
    an explicit one must divide both, and int4's must be a multiple of 32."""
    check_scheme(scheme)
    if cfg.arch != "llama":
        raise TinylmError(
            f"tinylm quantizes Llama runs; this run is '{cfg.arch}' (its layers are not the "
            "ones the quantized kernels compute)"
        )
    widths = quantized_widths(cfg)
    asked = group_size is not None
    if group_size is None:
        group = DEFAULT_GROUP[scheme]
        if scheme == "int8":
            while group > 1 and any(w % group for w in widths.values()):
                group //= 2
        group_size = group
    spec = QuantSpec(scheme, group_size, not keep_embeddings, not keep_output)
    check_group_size(spec, widths, asked)
    return spec


def check_group_size(spec: QuantSpec, widths: dict[str, int], asked: bool = True) -> None:
    """`asked`: the group size came from --group-size (else it is the scheme's default)."""
    if spec.group_size < 0:
        raise TinylmError(
            f"--group-size must be positive (or 0 / 'channel' for one scale per row), got "
            f"{spec.group_size}"
        )
    for name, width in widths.items():
        group = spec.group_for(width)
        if width % group:
            divisors = [
                g
                for g in (256, 128, 64, 32, 16, 8, 4, 2)
                if all(w % g == 0 for w in widths.values())
            ]
            if spec.scheme == "int4":
                divisors = [g for g in divisors if g % INT4_BLOCK == 0]
            hint = (
                f"choose one of {', '.join(map(str, divisors))}"
                if divisors
                else ("use --scheme int8" if spec.scheme == "int4" else "use --group-size channel")
            )
            what = f"--group-size {group}" if asked else f"{spec.scheme}'s group of {group}"
            raise TinylmError(f"{what} does not divide the model's {name} {width}; {hint}")
        if spec.scheme == "int4" and group % INT4_BLOCK:
            raise TinylmError(
                f"int4 packs weights in blocks of {INT4_BLOCK} (as GGUF's Q4_0), so its group "
                f"size must be a multiple of {INT4_BLOCK}; {name} {width} with --group-size "
                f"{group} is not (use --scheme int8 for this model)"
            )
