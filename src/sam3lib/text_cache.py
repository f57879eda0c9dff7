"""A thread-safe LRU cache of encoded text prompts, keyed by their token ids.

Keying by token ids rather than by the raw string makes "Red car" and " red  car" share one
entry, since the tokenizer cleans both to the same tokens.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import torch

from sam3lib.errors import InputError
from sam3lib.model.outputs import TextFeatures
from sam3lib.tokenizer import TokenBatch

TokenKey = tuple[int, ...]


class TextFeatureCache:
    """Remembers the features of the last ``capacity`` distinct prompts.

    Args:
        capacity: number of prompts kept; 0 disables caching.

    Example:
        >>> cache = TextFeatureCache(capacity=128)
        >>> features = cache.features(tokens, backend.encode_text)  # doctest: +SKIP
    """

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise InputError(f"text_cache_size: expected an int >= 0, got {capacity!r}")
        self.capacity = capacity
        self._entries: OrderedDict[TokenKey, TextFeatures] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def features(
        self,
        tokens: TokenBatch,
        encode: Callable[[torch.Tensor, torch.Tensor], TextFeatures],
    ) -> TextFeatures:
        """Features of every prompt in ``tokens``, encoding only those not cached.

        The prompts that miss are encoded together in one ``encode`` call (outside the lock,
        so other threads are not held up by it).
        """
        keys = [tuple(row) for row in tokens.ids.tolist()]
        with self._lock:
            found = {key: self._entries[key] for key in keys if key in self._entries}
            for key in found:
                self._entries.move_to_end(key)
            self.hits += sum(key in found for key in keys)
        missing = list(dict.fromkeys(key for key in keys if key not in found))
        if missing:
            rows = [keys.index(key) for key in missing]
            encoded = encode(tokens.ids[rows], tokens.attention_mask[rows])
            fresh = {
                key: TextFeatures(encoded.features[i : i + 1], encoded.mask[i : i + 1])
                for i, key in enumerate(missing)
            }
            found.update(fresh)
            self._store(fresh)
        return TextFeatures(
            torch.cat([found[key].features for key in keys]),
            torch.cat([found[key].mask for key in keys]),
        )

    def _store(self, fresh: dict[TokenKey, TextFeatures]) -> None:
        with self._lock:
            self.misses += len(fresh)
            if self.capacity == 0:
                return
            for key, value in fresh.items():
                self._entries[key] = value
                self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
