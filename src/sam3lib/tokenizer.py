"""SAM 3's text tokenizer: CLIP's byte-level BPE with Meta's padding and truncation.

A prompt becomes ``[SOT] + bpe(clean(prompt)) + [EOT]``; longer than the context it is cut to
the context length with EOT kept last, shorter it is padded with id 0. The attention mask is
True on real tokens (SOT and EOT included) and False on padding, which the text encoder's
consumers must mask out.

The BPE itself runs in the ``tokenizers`` library, from a checkpoint's ``tokenizer.json`` or
from OpenAI-format ``vocab.json`` + ``merges.txt``.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, models, pre_tokenizers

from sam3lib.errors import CheckpointError, InputError

START_TOKEN = "<|startoftext|>"
END_TOKEN = "<|endoftext|>"
START_TOKEN_ID = 49406
END_TOKEN_ID = 49407
CONTEXT_LENGTH = 32
TOKENIZER_FILE = "tokenizer.json"
VOCAB_FILE = "vocab.json"
MERGES_FILE = "merges.txt"

# CLIP's pre-split pattern without its two special-token alternatives: `tokenizers` matches
# added special tokens itself, before the pre-tokenizer runs.
_CLIP_SPLIT_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"
_END_OF_WORD = "</w>"
# CLIP keeps the first 49152 - 256 - 2 merges, so that bytes, merges and the two special tokens
# make 49408 ids.
_CLIP_MERGE_COUNT = 49152 - 256 - 2
_MERGES_HEADER = "#version: 0.2"
_WHITESPACE_RUN = re.compile(r"\s+")


class PromptTruncatedWarning(UserWarning):
    """A prompt had more tokens than the context holds and was cut (its end token kept)."""


@dataclass(frozen=True)
class TokenBatch:
    """Token ids of a batch of prompts, in Meta's layout.

    Attributes:
        ids: (N, context_length) int64; SOT, BPE ids, EOT, then 0 padding.
        attention_mask: (N, context_length) bool; True on real tokens, False on padding.
    """

    ids: torch.Tensor
    attention_mask: torch.Tensor


def clean_prompt(text: str) -> str:
    """Clean a prompt the way Meta's tokenizer does, less ftfy's mojibake repair.

    Example:
        >>> clean_prompt("  Cats &amp;\\tDOGS ")
        'cats & dogs'
    """
    # Meta unescapes twice, so "&amp;amp;" becomes "&".
    text = html.unescape(html.unescape(text))
    text = unicodedata.normalize("NFC", text)
    return _WHITESPACE_RUN.sub(" ", text).strip().lower()


class Sam3Tokenizer:
    """Turns text prompts into SAM 3's token ids and attention mask.

    Args:
        tokenizer: a ``tokenizers`` CLIP BPE tokenizer; it is copied, and its own padding,
            truncation and special-token post-processing are not used.
        context_length: tokens per prompt, SOT and EOT included.
        start_token_id: id of ``<|startoftext|>``; by default the id ``tokenizer`` gives it
            (49406 in CLIP's vocabulary; a checkpoint with its own vocabulary has its own).
        end_token_id: id of ``<|endoftext|>``, likewise (49407 in CLIP's).

    Example:
        >>> tokenizer = Sam3Tokenizer.from_directory("checkpoints/sam3")  # doctest: +SKIP
        >>> tokenizer.encode("a red car").ids[0, :5].tolist()  # doctest: +SKIP
        [49406, 320, 736, 1615, 49407]
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        context_length: int = CONTEXT_LENGTH,
        start_token_id: int | None = None,
        end_token_id: int | None = None,
    ) -> None:
        if context_length < 2:
            raise InputError(
                f"context_length must be at least 2 (start and end token), got {context_length}"
            )
        start_token_id = _special_token_id(tokenizer, START_TOKEN, start_token_id)
        end_token_id = _special_token_id(tokenizer, END_TOKEN, end_token_id)
        problem = _special_token_problem(tokenizer, start_token_id, end_token_id)
        if problem:
            raise InputError(problem)
        # A copy, so that turning off padding and truncation leaves the caller's object alone.
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.context_length = context_length
        self.start_token_id = start_token_id
        self.end_token_id = end_token_id

    @classmethod
    def from_directory(
        cls, directory: str | Path, context_length: int = CONTEXT_LENGTH
    ) -> Sam3Tokenizer:
        """Load the tokenizer files a checkpoint directory carries.

        ``tokenizer.json`` is preferred; without it, ``vocab.json`` + ``merges.txt`` are used.

        Raises:
            CheckpointError: neither set of files is in ``directory``, or they cannot be read.

        Example:
            >>> tokenizer = Sam3Tokenizer.from_directory("checkpoints/sam3")  # doctest: +SKIP
        """
        directory = Path(directory)
        tokenizer_path = directory / TOKENIZER_FILE
        if tokenizer_path.is_file():
            try:
                tokenizer = Tokenizer.from_file(str(tokenizer_path))
            except Exception as error:
                raise CheckpointError(f"cannot read {tokenizer_path}: {error}") from error
            return cls._from_file(tokenizer, tokenizer_path, context_length)
        vocab_path, merges_path = directory / VOCAB_FILE, directory / MERGES_FILE
        if vocab_path.is_file() and merges_path.is_file():
            return cls.from_vocab_and_merges(vocab_path, merges_path, context_length)
        raise CheckpointError(
            f"no tokenizer in {directory}: expected {TOKENIZER_FILE}, or {VOCAB_FILE} and "
            f"{MERGES_FILE} (write them from CLIP's merges with write_clip_vocab_files)"
        )

    @classmethod
    def from_vocab_and_merges(
        cls,
        vocab_path: str | Path,
        merges_path: str | Path,
        context_length: int = CONTEXT_LENGTH,
    ) -> Sam3Tokenizer:
        """Build the tokenizer from OpenAI CLIP's ``vocab.json`` and ``merges.txt``.

        Raises:
            CheckpointError: a file is missing, malformed, or lacks the special tokens.

        Example:
            >>> tokenizer = Sam3Tokenizer.from_vocab_and_merges(
            ...     "sam3/vocab.json", "sam3/merges.txt"
            ... )  # doctest: +SKIP
        """
        vocab = _read_vocab(Path(vocab_path))
        merges = _read_merges(Path(merges_path))
        try:
            bpe = models.BPE(
                vocab, merges, end_of_word_suffix=_END_OF_WORD, continuing_subword_prefix=""
            )
        except Exception as error:  # tokenizers raises a bare Exception for unknown symbols
            raise CheckpointError(f"{merges_path} does not fit {vocab_path}: {error}") from error
        tokenizer = Tokenizer(bpe)
        # No normaliser: encode() cleans text with Python's own rules, as Meta's tokenizer does.
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(_CLIP_SPLIT_PATTERN), behavior="removed", invert=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
        tokenizer.add_special_tokens([START_TOKEN, END_TOKEN])
        return cls._from_file(tokenizer, Path(vocab_path), context_length)

    @classmethod
    def _from_file(cls, tokenizer: Tokenizer, source: Path, context_length: int) -> Sam3Tokenizer:
        """Construct from a tokenizer read from ``source``, blaming the file if it is not CLIP's.

        The special tokens' ids are the file's own: transformers writes a checkpoint with its
        own vocabulary (ids other than CLIP's 49406/49407) and reads them back from its files.
        """
        try:
            return cls(tokenizer, context_length=context_length)
        except InputError as error:
            raise CheckpointError(f"{source}: {error}") from error

    @property
    def vocab_size(self) -> int:
        """One more than the largest token id, special tokens included (49408 for CLIP's)."""
        return 1 + max(self._tokenizer.get_vocab(with_added_tokens=True).values())

    def encode(self, prompts: str | Sequence[str]) -> TokenBatch:
        """Tokenize one prompt or a batch, with Meta's truncation and 0 padding.

        A prompt longer than the context is cut to ``context_length`` tokens with the end token
        kept last, and a :class:`PromptTruncatedWarning` is issued.

        Args:
            prompts: a prompt, or a non-empty sequence of prompts.

        Returns:
            A :class:`TokenBatch` of shape (N, context_length); N = 1 for a single string.

        Raises:
            InputError: ``prompts`` is not text, is empty, or holds an empty prompt.

        Example:
            >>> batch = tokenizer.encode(["a red car", "dog"])  # doctest: +SKIP
            >>> batch.ids.shape, batch.attention_mask[0, :6].tolist()  # doctest: +SKIP
            (torch.Size([2, 32]), [True, True, True, True, True, False])
        """
        texts = _clean_prompts(prompts)
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        ids = torch.zeros((len(texts), self.context_length), dtype=torch.int64)
        attention_mask = torch.zeros((len(texts), self.context_length), dtype=torch.bool)
        for row, encoding in enumerate(encodings):
            tokens = [self.start_token_id, *encoding.ids, self.end_token_id]
            if len(tokens) > self.context_length:
                warnings.warn(
                    f"prompts[{row}] has {len(tokens)} tokens, more than the context length "
                    f"{self.context_length}; it was truncated to {self.context_length} tokens",
                    PromptTruncatedWarning,
                    stacklevel=2,
                )
                tokens = [*tokens[: self.context_length - 1], self.end_token_id]
            ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.int64)
            attention_mask[row, : len(tokens)] = True
        return TokenBatch(ids=ids, attention_mask=attention_mask)

    def save(self, directory: str | Path) -> None:
        """Write the tokenizer to ``directory/tokenizer.json`` (the directory is created).

        Example:
            >>> tokenizer.save("exported/sam3")  # doctest: +SKIP
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._tokenizer.save(str(directory / TOKENIZER_FILE))


def write_clip_vocab_files(bpe_merges_gz: str | Path, directory: str | Path) -> tuple[Path, Path]:
    """Turn OpenAI CLIP's ``bpe_simple_vocab_16e6.txt.gz`` into ``vocab.json`` + ``merges.txt``.

    These are the files a SAM 3 checkpoint carries. Ids follow CLIP: the 256 byte symbols, the
    same with ``</w>``, one per merge, then ``<|startoftext|>`` and ``<|endoftext|>`` (49408).

    Returns:
        The paths of the written ``vocab.json`` and ``merges.txt``.

    Raises:
        CheckpointError: the merges file cannot be read.

    Example:
        >>> vocab_path, merges_path = write_clip_vocab_files(
        ...     "bpe_simple_vocab_16e6.txt.gz", "checkpoints/sam3"
        ... )  # doctest: +SKIP
    """
    try:
        lines = gzip.decompress(Path(bpe_merges_gz).read_bytes()).decode("utf-8").split("\n")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise CheckpointError(f"cannot read CLIP merges from {bpe_merges_gz}: {error}") from error
    merges = [_parse_merge(line, bpe_merges_gz) for line in lines[1 : _CLIP_MERGE_COUNT + 1]]
    byte_symbols = list(_byte_symbols().values())
    tokens = [
        *byte_symbols,
        *(symbol + _END_OF_WORD for symbol in byte_symbols),
        *("".join(merge) for merge in merges),
        START_TOKEN,
        END_TOKEN,
    ]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab_path, merges_path = directory / VOCAB_FILE, directory / MERGES_FILE
    vocab = {token: token_id for token_id, token in enumerate(tokens)}
    vocab_path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merge_lines = [_MERGES_HEADER, *(f"{left} {right}" for left, right in merges)]
    merges_path.write_text("\n".join(merge_lines) + "\n", encoding="utf-8")
    return vocab_path, merges_path


def _clean_prompts(prompts: str | Sequence[str]) -> list[str]:
    """Validate ``prompts`` and clean each one; raises InputError naming the bad prompt."""
    if isinstance(prompts, str):
        prompts = [prompts]
    elif not isinstance(prompts, Sequence):
        raise InputError(f"prompts must be a str or a sequence of str, got {type(prompts)!r}")
    if len(prompts) == 0:
        raise InputError("prompts is empty; give at least one prompt")
    texts = []
    for index, prompt in enumerate(prompts):
        if not isinstance(prompt, str):
            raise InputError(f"prompts[{index}] must be a str, got {type(prompt)!r}")
        text = clean_prompt(prompt)
        if not text:
            raise InputError(f"prompts[{index}] is empty or whitespace-only: {prompt!r}")
        texts.append(text)
    return texts


def _special_token_id(tokenizer: Tokenizer, token: str, token_id: int | None) -> int:
    """``token_id`` if given, else the id ``tokenizer``'s vocabulary gives ``token``."""
    if token_id is not None:
        return token_id
    found = tokenizer.token_to_id(token)
    if found is None:
        raise InputError(
            f"the tokenizer has no {token!r} token: SAM 3 needs CLIP's vocabulary, whose "
            "prompts start and end with <|startoftext|> and <|endoftext|>"
        )
    return found


def _special_token_problem(tokenizer: Tokenizer, start_token_id: int, end_token_id: int) -> str:
    """Why the special-token ids do not fit ``tokenizer``'s vocabulary; empty if they do."""
    for name, token, token_id in (
        ("start_token_id", START_TOKEN, start_token_id),
        ("end_token_id", END_TOKEN, end_token_id),
    ):
        found = tokenizer.id_to_token(token_id)
        if found != token:
            return (
                f"{name}={token_id}: special token {token!r} must have this id, but the id "
                f"holds {found!r}; is this a CLIP tokenizer?"
            )
    return ""


def _byte_symbols() -> dict[int, str]:
    """GPT-2's byte -> printable character map, in its order (printable bytes first)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    symbols = {byte: chr(byte) for byte in printable}
    # Bytes without a printable glyph of their own borrow code points from 256 on.
    unprintable = [byte for byte in range(256) if byte not in symbols]
    symbols.update({byte: chr(256 + offset) for offset, byte in enumerate(unprintable)})
    return symbols


def _parse_merge(line: str, source: str | Path) -> tuple[str, str]:
    parts = line.split()
    if len(parts) != 2:
        raise CheckpointError(f"{source}: malformed merge line {line!r}; expected two symbols")
    return parts[0], parts[1]


def _read_vocab(path: Path) -> dict[str, int]:
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointError(f"cannot read {path}: {error}") from error
    if not isinstance(vocab, dict) or not all(
        isinstance(token, str) and isinstance(token_id, int) for token, token_id in vocab.items()
    ):
        raise CheckpointError(f"{path} is not a token -> id JSON object")
    return vocab


def _read_merges(path: Path) -> list[tuple[str, str]]:
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as error:
        raise CheckpointError(f"cannot read {path}: {error}") from error
    if lines and lines[0].startswith("#version"):
        lines = lines[1:]
    return [_parse_merge(line, path) for line in lines if line.strip()]
