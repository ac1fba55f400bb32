"""sentencepiece tokenizers (`.model`, and the pieces of llama2.c's `tokenizer.bin`) as a
Hugging Face `tokenizers` JSON, so `tinylm.tokenizer.Tokenizer` and everything built on it
(data prepare, runs, generation, transformers) works with them unchanged.

The reference is transformers' `LlamaConverter` (convert_slow_tokenizer.py): a byte-fallback BPE
whose merges are rebuilt from the piece scores, `▁` for spaces, a dummy `▁` in front of the text
and a decoder that strips it again. On top of that this honours the model's own normaliser
flags (`remove_extra_whitespaces`, which llama2.c's and chinese-llama2.c's tokenizers set and
Meta's Llama 2 tokenizer does not) so encoding agrees with the sentencepiece library itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tokenizers import Regex, decoders, models, normalizers, processors
from tokenizers import Tokenizer as HFTokenizer

from tinylm.errors import TinylmError
from tinylm.interop import require
from tinylm.tokenizer import Tokenizer

SPACE = "▁"  # sentencepiece's visible space, U+2581

# sentencepiece piece types (sentencepiece_model.proto); GGUF's token_type uses the same numbers.
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}


@dataclass(frozen=True)
class Piece:
    text: str  # sentencepiece form: "▁" for a space, "<0x0A>" for a byte piece
    score: float
    kind: int


@dataclass(frozen=True)
class SpmSettings:
    add_dummy_prefix: bool = True
    remove_extra_whitespaces: bool = False
    precompiled_charsmap: bytes = b""


def read_model_file(path: str | Path) -> tuple[list[Piece], SpmSettings]:
    """Pieces and normaliser settings of a sentencepiece `.model` (a protobuf)."""
    path = Path(path)
    if not path.is_file():
        raise TinylmError(f"tokenizer file not found: {path}")
    pb = require("sentencepiece.sentencepiece_model_pb2", "reading sentencepiece .model files")
    proto = pb.ModelProto()
    try:
        proto.ParseFromString(path.read_bytes())
    except Exception:  # protobuf's DecodeError, or worse for random bytes
        proto = None
    if proto is None or not proto.pieces:
        raise TinylmError(
            f"{path} is not a sentencepiece model (no pieces could be read); pass a .model file "
            "written by sentencepiece's trainer"
        )
    model_type = MODEL_TYPES.get(proto.trainer_spec.model_type, "unknown")
    if model_type != "bpe":
        raise TinylmError(
            f"{path} is a sentencepiece {model_type} model; tinylm converts BPE models "
            "(model_type=bpe, what llama2.c and Llama use)"
        )
    if not proto.trainer_spec.byte_fallback:
        raise TinylmError(
            f"{path} was trained without byte_fallback; tinylm needs byte-fallback tokenizers "
            "so that every text can be encoded"
        )
    spec = proto.normalizer_spec
    pieces = [Piece(p.piece, p.score, p.type) for p in proto.pieces]
    settings = SpmSettings(
        add_dummy_prefix=spec.add_dummy_prefix,
        remove_extra_whitespaces=spec.remove_extra_whitespaces,
        precompiled_charsmap=bytes(spec.precompiled_charsmap),
    )
    return pieces, settings


def load_model_file(path: str | Path) -> Tokenizer:
    pieces, settings = read_model_file(path)
    return Tokenizer(build_tokenizer(pieces, settings, str(path)), source=str(path))


def bpe_merges(pieces: list[Piece]) -> list[tuple[str, str]]:
    """sentencepiece BPE merges the adjacent pair whose union has the best score; a `tokenizers`
    BPE merges by rank. Ranking every split of every piece by that piece's score (ties by id,
    as transformers' SentencePieceExtractor does) makes the two agree."""
    mergeable = {p.text: i for i, p in enumerate(pieces) if p.kind in (NORMAL, USER_DEFINED)}
    order = sorted(
        (i for i, p in enumerate(pieces) if p.kind == NORMAL), key=lambda i: (-pieces[i].score, i)
    )
    merges: list[tuple[str, str]] = []
    for i in order:
        text = pieces[i].text
        local = []
        for cut in range(1, len(text)):
            left, right = text[:cut], text[cut:]
            if left in mergeable and right in mergeable:
                local.append((mergeable[left], mergeable[right], left, right))
        merges.extend((left, right) for _, _, left, right in sorted(local))
    return merges


def build_tokenizer(pieces: list[Piece], settings: SpmSettings, source: str) -> HFTokenizer:
    vocab: dict[str, int] = {}
    for i, piece in enumerate(pieces):
        if piece.text in vocab:
            raise TinylmError(f"{source} lists the piece {piece.text!r} twice; it is damaged")
        vocab[piece.text] = i
    unk = next((p.text for p in pieces if p.kind == UNKNOWN), None)
    if unk is None:
        raise TinylmError(f"{source} has no unknown-token piece; it is not a usable tokenizer")
    tok = HFTokenizer(
        models.BPE(
            vocab=vocab, merges=bpe_merges(pieces), unk_token=unk, byte_fallback=True, fuse_unk=True
        )
    )
    steps: list[normalizers.Normalizer] = []
    if settings.precompiled_charsmap:
        steps.append(normalizers.Precompiled(settings.precompiled_charsmap))
    if settings.remove_extra_whitespaces:
        # sentencepiece drops leading/trailing spaces and squeezes runs of them (spaces only;
        # newlines and tabs are left alone). Onig's ^/$ match at every line, hence \A and \z.
        steps.append(normalizers.Replace(Regex(r"\A +| +\z"), ""))
        steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    if settings.add_dummy_prefix:
        steps.append(normalizers.Prepend(SPACE))  # skipped for empty text, as in sentencepiece
    steps.append(normalizers.Replace(" ", SPACE))
    tok.normalizer = normalizers.Sequence(steps)
    decode_steps = [decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()]
    if settings.add_dummy_prefix:
        decode_steps.append(decoders.Strip(content=" ", left=1, right=0))
    tok.decoder = decoders.Sequence(decode_steps)
    specials = [p.text for p in pieces if p.kind in (UNKNOWN, CONTROL)]
    tok.add_special_tokens(specials)
    user = [p.text for p in pieces if p.kind == USER_DEFINED]
    if user:
        tok.add_tokens(user)
    bos = next((p.text for p in pieces if p.kind == CONTROL and p.text == "<s>"), None)
    if bos is not None:
        # transformers' pipeline encodes with special tokens: BOS first, as sentencepiece
        # models were trained.
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, vocab[bos])]
        )
    return tok
