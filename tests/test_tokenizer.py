"""Tests of sam3lib.tokenizer against CLIP's real merges and an independent plain-Python CLIP BPE.

The reference below follows OpenAI CLIP's published algorithm and Meta's SAM 3 padding and
truncation; it shares no code with sam3lib.
"""

from __future__ import annotations

import gzip
import html
import itertools
import json
import unicodedata
from pathlib import Path

import pytest
import regex
import torch
from tokenizers import Tokenizer

from sam3lib.errors import CheckpointError, InputError
from sam3lib.tokenizer import (
    PromptTruncatedWarning,
    Sam3Tokenizer,
    TokenBatch,
    clean_prompt,
    write_clip_vocab_files,
)

CLIP_MERGES_GZ = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "reference"
    / "clip_bpe_simple_vocab_16e6.txt.gz"
)
SOT, EOT, CONTEXT = 49406, 49407, 32

PROMPTS = [
    "a red car",
    "A RED Car",
    "red car!!! (left), 3 dogs.",
    "the dog's toy",
    "they're here; we'll see, I'd go, you've won, I'm ok, don't",
    "rock'n'roll ''quoted'' !?",
    "café crème",
    "cafe\u0301 cre\u0300me",  # decomposed accents: NFC must compose them
    "日本の車",
    "a 🐶 next to a 🚗",
    "ÜNÏCÖDÉ straße",
    "ΣΟΦΙΑ ΟΔΟΣ İstanbul",
    "  two   spaces\tand a tab\nand a\r\nnewline  ",
    "\u00a0no-break\u3000ideographic space",
    "cats &amp; dogs",
    "&lt;b&gt;bold&lt;/b&gt; &amp;amp; more",
    "version 3.14, 1234567 items",
    "hello-world_foo/bar@baz.com",
    "an <|endoftext|> inside",
]
OVERLONG_PROMPT = " ".join(f"word{i}" if i % 3 else "dog" for i in range(60))


# --- independent reference -------------------------------------------------------------------


def reference_byte_chars() -> list[tuple[int, str]]:
    """GPT-2's byte to character table in its published order: printable bytes first."""
    kept = [b for b in range(256) if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255]
    others = [b for b in range(256) if b not in kept]
    return [(b, chr(b)) for b in kept] + [(b, chr(256 + n)) for n, b in enumerate(others)]


class ReferenceClipTokenizer:
    """Plain-Python CLIP BPE with Meta's SAM 3 truncation (EOT kept) and 0 padding."""

    pattern = regex.compile(
        r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
        regex.IGNORECASE,
    )

    def __init__(self, merges_gz: Path) -> None:
        with gzip.open(merges_gz, "rt", encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
        table = reference_byte_chars()
        self.byte_char = dict(table)
        symbols = [char for _, char in table]
        tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
        tokens += ["<|startoftext|>", "<|endoftext|>"]
        self.token_id = {token: i for i, token in enumerate(tokens)}
        self.rank = {pair: i for i, pair in enumerate(merges)}

    def bpe(self, word: str) -> list[str]:
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            pairs = set(itertools.pairwise(parts))
            best = min(pairs, key=lambda pair: self.rank.get(pair, float("inf")))
            if best not in self.rank:
                break
            merged: list[str] = []
            i = 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return parts

    def tokens(self, text: str) -> list[int]:
        """Unpadded ids: SOT, BPE ids, EOT, truncated to CONTEXT with EOT last."""
        text = unicodedata.normalize("NFC", html.unescape(html.unescape(text)))
        text = regex.sub(r"\s+", " ", text).strip().lower()
        ids = [SOT]
        for piece in self.pattern.findall(text):
            if piece in ("<|startoftext|>", "<|endoftext|>"):
                ids.append(self.token_id[piece])
                continue
            chars = "".join(self.byte_char[b] for b in piece.encode("utf-8"))
            ids.extend(self.token_id[part] for part in self.bpe(chars))
        ids.append(EOT)
        if len(ids) > CONTEXT:
            ids = ids[:CONTEXT]
            ids[-1] = EOT
        return ids


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference() -> ReferenceClipTokenizer:
    return ReferenceClipTokenizer(CLIP_MERGES_GZ)


@pytest.fixture(scope="module")
def vocab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("clip_vocab")
    write_clip_vocab_files(CLIP_MERGES_GZ, directory)
    return directory


@pytest.fixture(scope="module")
def tokenizer(vocab_dir: Path) -> Sam3Tokenizer:
    return Sam3Tokenizer.from_directory(vocab_dir)


def assert_matches_reference(
    batch: TokenBatch, prompts: list[str], reference: ReferenceClipTokenizer
) -> None:
    assert batch.ids.dtype == torch.int64
    assert batch.attention_mask.dtype == torch.bool
    assert batch.ids.shape == batch.attention_mask.shape == (len(prompts), CONTEXT)
    for row, prompt in enumerate(prompts):
        expected = reference.tokens(prompt)
        padding = CONTEXT - len(expected)
        assert batch.ids[row].tolist() == expected + [0] * padding, prompt
        assert batch.attention_mask[row].tolist() == [True] * len(expected) + [False] * padding


# --- tests -----------------------------------------------------------------------------------


def test_clean_prompt_unescapes_composes_collapses_and_lowercases() -> None:
    text = clean_prompt(" \tCats &amp;amp;\n\u00a0DOGS  Cafe\u0301 ΟΔΟΣ ")
    assert text == "cats & dogs caf\u00e9 οδος"


def test_a_red_car_gives_clip_ids_zero_padding_and_mask(tokenizer: Sam3Tokenizer) -> None:
    batch = tokenizer.encode("a red car")
    assert batch.ids.tolist() == [[SOT, 320, 736, 1615, EOT] + [0] * 27]
    assert batch.attention_mask.tolist() == [[True] * 5 + [False] * 27]


def test_clip_vocab_files_follow_clip_id_order(vocab_dir: Path) -> None:
    vocab = json.loads((vocab_dir / "vocab.json").read_text(encoding="utf-8"))
    merges = (vocab_dir / "merges.txt").read_text(encoding="utf-8").split("\n")
    assert len(vocab) == 49408
    assert (vocab["!"], vocab["!</w>"], vocab["in"], vocab["a</w>"]) == (0, 256, 512, 320)
    assert (vocab["<|startoftext|>"], vocab["<|endoftext|>"]) == (SOT, EOT)
    assert merges[0].startswith("#version")
    assert merges[1:3] == ["i n", "t h"]
    assert len([line for line in merges[1:] if line]) == 49152 - 256 - 2


@pytest.mark.parametrize("prompt", PROMPTS)
def test_each_prompt_matches_reference(
    tokenizer: Sam3Tokenizer, reference: ReferenceClipTokenizer, prompt: str
) -> None:
    assert_matches_reference(tokenizer.encode(prompt), [prompt], reference)


def test_batch_matches_reference_row_by_row(
    tokenizer: Sam3Tokenizer, reference: ReferenceClipTokenizer
) -> None:
    assert_matches_reference(tokenizer.encode(PROMPTS), PROMPTS, reference)


def test_mask_is_not_ids_nonzero(tokenizer: Sam3Tokenizer) -> None:
    # Id 0 is "!" not ending a word, a real token: the mask must not be derived from ids.
    batch = tokenizer.encode("!$")
    assert batch.ids[0, :5].tolist() == [SOT, 0, 259, EOT, 0]
    assert batch.attention_mask[0, :5].tolist() == [True, True, True, True, False]


def test_overlong_prompt_is_truncated_with_end_token_and_warning(
    tokenizer: Sam3Tokenizer, reference: ReferenceClipTokenizer
) -> None:
    with pytest.warns(PromptTruncatedWarning, match="truncated"):
        batch = tokenizer.encode(["a dog", OVERLONG_PROMPT])
    assert batch.ids[1, -1].item() == EOT
    assert bool(batch.attention_mask[1].all())
    assert_matches_reference(batch, ["a dog", OVERLONG_PROMPT], reference)


def test_smaller_context_length_truncates_to_it(vocab_dir: Path) -> None:
    tokenizer = Sam3Tokenizer.from_directory(vocab_dir, context_length=4)
    assert tokenizer.encode("a dog").ids.tolist() == [[SOT, 320, 1929, EOT]]
    with pytest.warns(PromptTruncatedWarning):
        batch = tokenizer.encode("a red car")
    assert batch.ids.tolist() == [[SOT, 320, 736, EOT]]


def test_tokenizer_json_from_transformers_matches_reference(
    vocab_dir: Path, reference: ReferenceClipTokenizer, tmp_path: Path
) -> None:
    transformers = pytest.importorskip("transformers")
    # How a checkpoint's tokenizer.json is made: transformers' CLIP tokenizer read from
    # vocab.json + merges.txt, then saved (its post-processor adds SOT/EOT itself).
    hf_tokenizer = transformers.CLIPTokenizerFast.from_pretrained(vocab_dir)
    hf_tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "tokenizer.json").is_file()
    for name in ("vocab.json", "merges.txt"):  # so only tokenizer.json can be what loads
        (tmp_path / name).unlink(missing_ok=True)
    from_json = Sam3Tokenizer.from_directory(tmp_path)
    prompts = [*PROMPTS, OVERLONG_PROMPT]
    with pytest.warns(PromptTruncatedWarning):
        batch = from_json.encode(prompts)
    assert_matches_reference(batch, prompts, reference)


def test_save_then_load_round_trips(
    tokenizer: Sam3Tokenizer, reference: ReferenceClipTokenizer, tmp_path: Path
) -> None:
    tokenizer.save(tmp_path / "saved")
    loaded = Sam3Tokenizer.from_directory(tmp_path / "saved")
    assert_matches_reference(loaded.encode(PROMPTS), PROMPTS, reference)


def test_tokenizer_json_is_preferred_over_vocab_and_merges(
    tokenizer: Sam3Tokenizer, tmp_path: Path
) -> None:
    tokenizer.save(tmp_path)
    (tmp_path / "vocab.json").write_text("not json", encoding="utf-8")
    (tmp_path / "merges.txt").write_text("broken", encoding="utf-8")
    ids = Sam3Tokenizer.from_directory(tmp_path).encode("a red car").ids
    assert ids[0, :5].tolist() == [SOT, 320, 736, 1615, EOT]


@pytest.mark.parametrize(
    ("prompts", "message"),
    [
        ("", r"prompts\[0\] is empty"),
        (" \t\n ", r"prompts\[0\] is empty"),
        (["a dog", "   "], r"prompts\[1\] is empty"),
        (5, "prompts must be a str"),
        (None, "prompts must be a str"),
        (["a dog", 3], r"prompts\[1\] must be a str"),
        ([], "prompts is empty"),
    ],
)
def test_bad_prompts_raise_input_error(
    tokenizer: Sam3Tokenizer, prompts: object, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        tokenizer.encode(prompts)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"context_length": 1}, "context_length"),
        ({"start_token_id": 320}, "start_token_id=320"),
        ({"end_token_id": 49406}, "end_token_id=49406"),
    ],
)
def test_constructor_rejects_bad_settings(
    tokenizer: Sam3Tokenizer, tmp_path: Path, arguments: dict[str, int], message: str
) -> None:
    tokenizer.save(tmp_path)
    backend = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    with pytest.raises(InputError, match=message):
        Sam3Tokenizer(backend, **arguments)


def test_directory_without_tokenizer_files_raises_checkpoint_error(tmp_path: Path) -> None:
    (tmp_path / "vocab.json").write_text("{}", encoding="utf-8")  # merges.txt is missing
    with pytest.raises(CheckpointError, match=r"tokenizer\.json.*vocab\.json.*merges\.txt"):
        Sam3Tokenizer.from_directory(tmp_path)


def test_malformed_vocab_files_raise_checkpoint_error(vocab_dir: Path, tmp_path: Path) -> None:
    vocab = tmp_path / "vocab.json"
    vocab.write_text('{"a": 0}', encoding="utf-8")
    with pytest.raises(CheckpointError, match="does not fit"):
        Sam3Tokenizer.from_vocab_and_merges(vocab, vocab_dir / "merges.txt")
    vocab.write_text('{"<|startoftext|>": 0, "<|endoftext|>": 1}', encoding="utf-8")
    (tmp_path / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    own_ids = Sam3Tokenizer.from_vocab_and_merges(vocab, tmp_path / "merges.txt")
    assert (own_ids.start_token_id, own_ids.end_token_id) == (0, 1)  # a vocabulary's own ids
    (tmp_path / "merges.txt").write_text("#version: 0.2\ni n x\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match="malformed merge line"):
        Sam3Tokenizer.from_vocab_and_merges(vocab_dir / "vocab.json", tmp_path / "merges.txt")
