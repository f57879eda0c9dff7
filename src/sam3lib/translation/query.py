"""Prompt → the English query the model reads, through whichever translator the user chose.

The one rule every caller shares: ASCII text is English and goes to the model exactly as typed;
any other prompt goes through the translator (:func:`sam3lib.translate` by default, or the
user's own callable), whose answer is checked before it reaches the tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sam3lib.errors import InputError, Sam3Error

#: Any function from a prompt to its English query: an LLM call, argos-translate, a glossary.
Translator = Callable[[str], str]


def check_translator(translator: object) -> Translator | None:
    """``translator`` if it is callable or None.

    Raises:
        InputError: anything else.

    Example:
        >>> check_translator(str.lower) is str.lower, check_translator(None)
        (True, None)
    """
    if translator is None or callable(translator):
        return translator
    raise InputError(
        f"translator: expected a function str -> str (or None to turn translation off), got "
        f"{type(translator).__name__}"
    )


def needs_translation(prompt: str, translator: Translator | None) -> bool:
    """Whether ``prompt`` goes through ``translator``: never for ASCII (English) text.

    Example:
        >>> needs_translation("red car", str.upper), needs_translation("红色的汽车", str.upper)
        (False, True)
    """
    return translator is not None and not prompt.isascii()


def english_query(prompt: str, translator: Translator | None) -> str:
    """The text the model reads for ``prompt``.

    Args:
        prompt: what the user typed.
        translator: a function from a prompt to English, or None for no translation.

    Returns:
        ``prompt`` itself when it is ASCII or ``translator`` is None, else the translator's
        answer.

    Raises:
        InputError: the translator raised an error that is not a sam3lib error, or returned
            something other than a non-empty string; the message names ``translator`` and the
            prompt. sam3lib's own errors (an untranslatable prompt, a missing extra) pass
            through as they are.

    Example:
        >>> english_query("red car", None), english_query("狗", {"狗": "dog"}.__getitem__)
        ('red car', 'dog')
    """
    if not needs_translation(prompt, translator):
        return prompt
    assert translator is not None
    try:
        query = translator(prompt)
    except Sam3Error:
        raise
    except Exception as error:
        raise InputError(
            f"translator: failed on the prompt {prompt!r}: {type(error).__name__}: {error}"
        ) from error
    if not isinstance(query, str) or not query.strip():
        raise InputError(
            f"translator: returned {query!r} for the prompt {prompt!r}; expected a non-empty "
            "string (the English query)"
        )
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"translator: returned {query!r} for the prompt {prompt!r}, which holds a lone "
            "surrogate and is not text"
        ) from None
    return query


def english_queries(prompts: Sequence[str], translator: Translator | None) -> list[str]:
    """:func:`english_query` of each prompt, in order.

    Example:
        >>> english_queries(["cat", "狗"], {"狗": "dog"}.__getitem__)
        ['cat', 'dog']
    """
    return [english_query(prompt, translator) for prompt in prompts]
