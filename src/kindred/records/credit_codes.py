"""Unified social credit codes (统一社会信用代码, GB 32100-2015): the one check.

The 18-character code is the key of a Chinese organisation and the ``tax_id`` of a CRM
account. Product code (seed data, identity resolution) and the reference stand-ins all
check it here; nothing else computes the check character.
"""

from __future__ import annotations

# The code's alphabet: digits and capital letters without I, O, Z, S and V (too easily read
# as 1, 0, 2, 5 and U); a character's value is its index here.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def credit_code_check_character(first17: str) -> str:
    """The 18th character of a unified social credit code: ``31 - Σ(value × 3^i mod 31)
    mod 31`` over the first 17 (GB 32100-2015; a checksum that catches any single
    mistyped character and most swaps)."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(char) * weight
        for char, weight in zip(first17, _WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def credit_code_checks_out(code: str) -> bool:
    """Whether ``code`` is 18 characters of the standard's alphabet with a correct check
    character (the administrative division is not looked at: see credit_code_problem)."""
    return (
        len(code) == 18
        and all(char in CREDIT_CODE_ALPHABET for char in code)
        and credit_code_check_character(code[:17]) == code[17]
    )


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a well-formed unified social credit code, or None when it is.

    Checked: 18 characters from the standard's alphabet, the administrative division
    (characters 3-8) all digits, and the check character."""
    if len(code) != 18:
        return f"a unified social credit code has 18 characters, {code!r} has {len(code)}"
    for position, char in enumerate(code, start=1):
        if char not in CREDIT_CODE_ALPHABET:
            return (
                f"character {char!r} at position {position} is not allowed in a unified social "
                "credit code (digits and capital letters except I, O, Z, S, V)"
            )
    if not code[2:8].isdigit():
        return f"characters 3-8 (the administrative division code) must be digits: {code[2:8]!r}"
    expected = credit_code_check_character(code[:17])
    if code[17] != expected:
        return f"the check character of {code!r} should be {expected!r}, not {code[17]!r}"
    return None
