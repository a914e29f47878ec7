"""The operator grammar: from a string a user wrote to the typed spec of one family.

:func:`parse_operator` normalises white space and asks every registered
:class:`~scinas.search_space.operators.base.OpAllocator` to parse the text; the family whose
keyword ends the text either returns its :class:`~scinas.search_space.operators.base.OpSpec` or
raises a :class:`~scinas.errors.ConfigError` naming the value and listing its forms.  A text no
family recognises is an "unknown operator" error with the valid forms for the rank and a
"did you mean" fix; a family used on a rank it does not support (``lstm`` on images) says which
inputs it needs.

Keywords are matched without regard to case; ``spec.text`` is the canonical spelling (``"3x3 conv"``,
``"8r SE"``), equal for equal operators.  ``cvt`` (convolutional attention, ``"3k-2h-1b cvt"``)
is reserved: it is not available in this version and says so.

Example::

    spec = parse_operator(" 3x3:1dr   conv ", rank=2)
    assert spec.text == "3x3 conv"
    layer = allocator_for(spec).build(spec, LayerRequest(rank=2, in_channels=16, filters=16))
"""

from __future__ import annotations

from typing import Any

from scinas.config.reader import suggest
from scinas.errors import ConfigError
from scinas.search_space.operators.base import ALLOCATORS, OpAllocator, OpSpec, normalize_operator_text
from scinas.search_space.operators.patterns import RANK_NAMES

__all__ = ["RESERVED_FAMILIES", "allocator_for", "parse_operator", "valid_forms"]

RESERVED_FAMILIES = {"cvt": "the cvt operator family (convolutional attention) is not available in this version"}
"""Keywords of families planned but not implemented: a clear error instead of "unknown"."""


def _allocators() -> list[OpAllocator[Any]]:
    """One allocator per registered family, in alphabetical order of the family (any case)."""
    return [ALLOCATORS.get(name)() for name in sorted(ALLOCATORS, key=str.lower)]


def valid_forms(rank: int) -> list[str]:
    """Every form of the families that support inputs of ``rank`` (1 series, 2 images)."""
    return [form for allocator in _allocators() for form in allocator.forms_for(rank)]


def _quoted(forms: list[str]) -> str:
    return ", ".join(f'"{form}"' for form in forms)


def _located(error: ConfigError, file: str | None, path: str | None) -> ConfigError:
    """``error`` attributed to ``file`` / ``path`` (the operator is already in its message)."""
    if file is None and path is None:
        return error
    return ConfigError(error.problem, file=file or error.file, path=path or error.path, fix=error.fix)


def _did_you_mean(text: str, rank: int) -> str:
    """A fix for an unknown operator: the same parameters with the closest known keyword."""
    words = text.split(" ")
    params = " ".join(words[:-1])
    keywords = {form.split(" ")[-1] for form in valid_forms(rank)}
    candidates = {f"{params} {keyword}".strip() for keyword in keywords} | keywords
    fix = suggest(text, candidates)
    return fix if fix.startswith("did you mean") else "write one of the valid forms"


def _rank_mismatch(allocator: OpAllocator[Any], text: str, rank: int) -> ConfigError | None:
    """An error when ``text`` is of ``allocator``'s family, which does not support ``rank``."""
    for other in sorted(allocator.ranks):
        try:
            recognised = allocator.parse(text, other) is not None
        except ConfigError:
            recognised = True  # its keyword, though wrongly written: the rank is the first problem
        if recognised:
            needed = " or ".join(RANK_NAMES[r] for r in sorted(allocator.ranks) if r in RANK_NAMES)
            return ConfigError(
                f'operator "{text}": the {allocator.family} family needs {needed} inputs, not {RANK_NAMES[rank]} '
                f"inputs; valid forms for {RANK_NAMES[rank]} inputs: {_quoted(valid_forms(rank))}",
                value=text,
                fix="choose an operator of another family",
            )
    return None


def parse_operator(text: str, rank: int, *, file: str | None = None, path: str | None = None) -> OpSpec:
    """The spec of operator ``text`` for inputs of ``rank`` (1 series, 2 images).

    ``file`` and ``path`` (the TOML file and key the text came from) are attached to any error.

    Example::

        parse_operator("3x3:2dr conv", 2)   # ConvSpec(family="conv", text="3x3:2dr conv", kernel=(3, 3), dilation=2)
        parse_operator("7 conv", 1)         # ConvSpec(..., kernel=(7,), dilation=1)
        parse_operator("3x3 convv", 2)      # ConfigError: unknown operator ... (fix: did you mean "3x3 conv"?)
    """
    if rank not in RANK_NAMES:
        raise ValueError(f"rank must be 1 (series) or 2 (images), not {rank}")
    if not isinstance(text, str):
        raise ConfigError(
            f"an operator must be a string such as \"3x3 conv\", not {type(text).__name__}", file=file, path=path,
            value=text,
        )
    normal = normalize_operator_text(text)
    forms = valid_forms(rank)
    if not normal:
        raise ConfigError(
            f"an operator is empty; valid forms for {RANK_NAMES[rank]} inputs: {_quoted(forms)}",
            file=file, path=path, fix="write one of the valid forms",
        )
    try:
        for allocator in _allocators():
            if rank in allocator.ranks:
                spec: OpSpec | None = allocator.parse(normal, rank)
                if spec is not None:
                    return spec
            else:
                mismatch = _rank_mismatch(allocator, normal, rank)
                if mismatch is not None:
                    raise mismatch
        reserved = RESERVED_FAMILIES.get(normal.split(" ")[-1].lower())
        if reserved is not None:
            raise ConfigError(
                f'operator "{normal}": {reserved}', value=normal,
                fix=f"use another operator; valid forms: {_quoted(forms)}",
            )
        raise ConfigError(
            f'unknown operator "{normal}" for {RANK_NAMES[rank]} inputs; valid forms: {_quoted(forms)}',
            value=normal,
            fix=_did_you_mean(normal, rank),
        )
    except ConfigError as error:
        raise _located(error, file, path) from None


def allocator_for(spec: OpSpec) -> OpAllocator[Any]:
    """An allocator of ``spec``'s family (allocators are stateless; a new one is cheap)."""
    return ALLOCATORS.get(spec.family)()
