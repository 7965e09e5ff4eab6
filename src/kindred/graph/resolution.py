"""Identity resolution on the customer semantic graph: find the records that describe the same
organization or person (the same hospital from the ERP, a lead form and WeChat), explain why,
and merge them reversibly.

Three parts, top to bottom:

1. **Normalization and profiles** (pure functions). An organization name is compared in three
   forms: *canonical* (NFKC — full-width to half-width —, case folded, punctuation, legal forms
   such as 有限公司/股份/Co., Ltd. and leading administrative suffixes 省/市/自治区 removed),
   *core* (the canonical name without a leading place name equal to the record's own city
   or province), and *latin* (``resolution_text``: common organization words translated
   from a glossary, the rest segmented with jieba and romanized tone-less with pypinyin;
   English synonyms and generic words written in pinyin mapped to the glossary's English),
   so "上海市第一人民医院", "上海第一人民医院" and "Shanghai First People's Hospital" meet,
   and "Beijing Anhe Hospital" / "Beijing An He Yiyuan" meet "北京安和医院". Across scripts
   the names' words are compared syllables aligned, and no higher than their proper names
   (the words that are not generic) agree: "Beijing Anhe Hospital" is not "北京协和医院".
2. **Blocking and scoring.** Every account and contact has blocking keys (tax id, external
   ids, phone, web/email domain, name forms with city or account) in ``identity_keys``,
   kept in step by a records change hook; a query looks up its own keys and scores only
   the records sharing one (a key shared by more than ``BLOCK_CAP`` records says nothing
   and is skipped), so matching against 10k accounts reads a few index entries. A score is
   the logistic of a prior plus each feature's contribution (log-odds: positive for
   agreement, negative for a conflict such as different tax ids); every feature reports its
   weight, similarity, contribution and a sentence. Thresholds split auto-merge-safe,
   needs-review and no-match.
3. **Reversible merges** through the record service under the caller's context: edges to
   the duplicate re-pointed, the duplicate deleted, the survivor's empty fields filled (or
   overridden), each write in the change log; the merge row keeps exactly what undoing needs.
   Undo checks that nothing it would overwrite changed since, then restores all of it.

Consent: scoring uses only values the caller may read (records are presented by the record
service, so customer-authorized values pass the policy decision point under the declared
purpose); a feature whose value is withheld is not compared. Merge snapshots seal
customer-authorized values with the customer's data key (the change-log sealers) and are
presented through the same read hooks; erasure removes them (``forget_record``).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from rapidfuzz import fuzz
from sqlalchemy.orm import Session

from kindred.db import utcnow
from kindred.db.bulk import BulkInserter
from kindred.errors import (
    Conflict,
    MalformedRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ValidationFailed,
    field_error,
)
from kindred.graph.resolution_models import IdentityKey, IdentityMerge
from kindred.graph.resolution_text import (
    ENGLISH_SYNONYMS,
    GLOSSARY,
    PINYIN_LEGAL_FORMS,
    pinyin_glossary,
    romanize,
    transliterate,
)
from kindred.ids import new_id
from kindred.ledger.service import LedgerService
from kindred.records.credit_codes import credit_code_checks_out
from kindred.records.fields import FieldType, FieldValueError, format_datetime
from kindred.records.metadata import CompiledObject
from kindred.records.models import ChangeLogEntry, RecordLink, RecordRow
from kindred.records.query import FieldFilter, ListQuery
from kindred.records.service import SEALED, RecordService, RequestContext

keys_table: sa.Table = IdentityKey.__table__  # type: ignore[assignment]
records_table: sa.Table = RecordRow.__table__  # type: ignore[assignment]
links_table: sa.Table = RecordLink.__table__  # type: ignore[assignment]

# A blocking key shared by more records than this is not discriminating ("hospital in
# Shanghai"): looking it up would compare everything with everything again.
BLOCK_CAP = 200
# Listing duplicates compares every pair of a block: a smaller cap bounds that to 1,225
# pairs per block, and the listing stops at MAX_DUPLICATE_PAIRS (smallest blocks first).
PAIR_BLOCK_CAP = 50
MAX_CANDIDATES = 100
MAX_DUPLICATE_PAIRS = 20_000

Decision = Literal["auto_merge", "review", "no_match"]
# (object matched against, object of the query) → how to read the query's values.
SOURCES: dict[str, tuple[str, ...]] = {
    "account": ("account", "lead"),
    "contact": ("contact", "lead"),
}


@dataclass(frozen=True)
class Thresholds:
    """Score thresholds: at or above ``auto_merge`` (and without a conflict) a merge is safe
    without a person looking; at or above ``review`` a person should decide."""

    auto_merge: float = 0.99
    review: float = 0.6

    def decide(self, score: float, conflict: bool) -> Decision:
        if score >= self.auto_merge and not conflict:
            return "auto_merge"
        if score >= self.review:
            return "review"
        return "no_match"


# -- 1. normalization ------------------------------------------------------------------------

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
LATIN_WORD = re.compile(r"#?[a-z0-9]+")
NOT_WORD = re.compile(r"[^\w]+")
# Leading administrative suffixes: 上海市 → 上海, 广东省深圳市 → 广东深圳. Only after a
# two-to-four character place name at the start, so 城市/超市 inside names stay.
ADMIN_PREFIX = re.compile(
    r"^([\u4e00-\u9fff]{2,4}?)(?:壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区|省|市)"
)
ZH_LEGAL_FORMS = (
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "有限公司",
    "股份公司",
    "集团公司",
    "总公司",
    "公司",
)
LATIN_NOISE = frozenset(
    "co ltd limited inc incorporated corp corporation company llc plc gmbh ag sa bv "  # noqa: SIM905
    "the of and to at in for".split()
)
LOCALITY_WORDS = frozenset({"city", "province", "shi", "sheng"})
ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
ZH_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
ORDINAL_ZH = re.compile(r"第\s*([0-9]+|[零〇一二两三四五六七八九十百]+)")
ORDINAL_EN = re.compile(r"\b(?:no|number)\s*\.?\s*([0-9]+)\b|\b([0-9]+)(?:st|nd|rd|th)\b")
ENGLISH_ORDINALS = {
    word: index + 1
    for index, word in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "  # noqa: SIM905
        "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
        "twentieth".split()
    )
}
GENERIC_WORDS = frozenset(word for words in GLOSSARY.values() for word in words.split()) | {
    "hospital",
    "clinic",
    "university",
    "medical",
    "health",
    "center",
    "centre",
    "people",
    "group",
}
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 端木 独孤 南宫".split()  # noqa: SIM905
)
FREE_MAIL = frozenset(
    "qq.com 163.com 126.com 139.com 188.com yeah.net sina.com sina.cn sohu.com foxmail.com "  # noqa: SIM905
    "aliyun.com gmail.com googlemail.com outlook.com hotmail.com live.com msn.com yahoo.com "
    "icloud.com me.com proton.me protonmail.com".split()
)


def fold(text: str) -> str:
    """NFKC (full-width letters, digits and brackets become half-width) and case folded."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


def _chinese_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text == "百":
        return 100
    if "十" in text:
        tens, _, ones = text.partition("十")
        value = (ZH_DIGITS.get(tens, 0) if tens else 1) * 10
        return value + (ZH_DIGITS.get(ones, 0) if ones else 0)
    if all(char in ZH_DIGITS for char in text):
        value = 0
        for char in text:
            value = value * 10 + ZH_DIGITS[char]
        return value
    return None


def strip_admin(text: str) -> str:
    """Leading 省/市/自治区 suffixes removed, repeatedly (广东省深圳市… → 广东深圳…)."""
    out = ""
    rest = text
    while True:
        match = ADMIN_PREFIX.match(rest)
        if match is None or len(rest) == match.end():
            return out + rest
        out += match.group(1)
        rest = rest[match.end() :]


def canonical_org(name: str) -> str:
    """Chinese names: characters without punctuation, legal forms and leading 省/市;
    other names: their words without legal forms and noise, in order."""
    text = fold(name)
    if not CJK.search(text):
        return " ".join(_latin_words(text))
    text = NOT_WORD.sub("", text.replace("_", ""))
    stripped = True
    while stripped:
        stripped = False
        for form in ZH_LEGAL_FORMS:
            if text.endswith(form) and len(text) > len(form) + 1:
                text = text[: -len(form)]
                stripped = True
    return strip_admin(text)


def _translate_cjk(run: str) -> tuple[list[str], list[str]]:
    """Chinese → English words: glossary words translated, the rest romanized (see
    ``resolution_text``). Also returns the romanized words of two or more characters: the
    proper names that tell one organization from another."""
    words = transliterate(run)
    return [w.text for w in words], [w.text for w in words if w.name]


def _latin_words(text: str) -> list[str]:
    text = re.sub(r"(?<=[a-z])'s\b", "", text)
    text = re.sub(r"(?<=[a-z])['\-](?=[a-z])", "", text)
    text = ORDINAL_EN.sub(lambda m: f" #{int(m.group(1) or m.group(2))} ", text)
    words = []
    for word in LATIN_WORD.findall(text):
        if word in ENGLISH_ORDINALS:
            word = f"#{ENGLISH_ORDINALS[word]}"
        elif word.endswith("s") and word[:-1] in GENERIC_WORDS:
            word = word[:-1]  # people's → people, hospitals → hospital
        if word not in LATIN_NOISE:
            words.append(word)
    return words


def latin_org(name: str) -> tuple[str, ...]:
    """The organization name as English/pinyin words (ordinals as ``#n``)."""
    return org_words(name)[0]


@functools.lru_cache(maxsize=65_536)
def org_words(name: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The name's English/pinyin words, and its distinctive words (proper names: romanized
    Chinese words, latin words of four letters or more that are not generic)."""
    text = fold(name)
    for form in ZH_LEGAL_FORMS:
        text = text.replace(form, " ")
    text = strip_admin(text.strip())
    tokens: list[str] = []
    names: list[str] = []
    position = 0
    for match in ORDINAL_ZH.finditer(text):
        _latin_segment(text[position : match.start()], tokens, names)
        number = _chinese_number(match.group(1))
        if number is not None:
            tokens.append(f"#{number}")
        position = match.end()
    _latin_segment(text[position:], tokens, names)
    return tuple(tokens), frozenset(names)


def _latin_segment(text: str, tokens: list[str], names: list[str]) -> None:
    position = 0
    for match in CJK_RUN.finditer(text):
        _latin_part(text[position : match.start()], tokens, names)
        words, proper = _translate_cjk(match.group())
        tokens += words
        names += proper
        position = match.end()
    _latin_part(text[position:], tokens, names)


def _latin_part(text: str, tokens: list[str], names: list[str]) -> None:
    words = [ENGLISH_SYNONYMS.get(w, w) for w in _latin_words(text) if w not in PINYIN_LEGAL_FORMS]
    # Generic words written in pinyin ("Anhe Yiyuan"): translated where the glossary's words
    # stand in a name, at its end, never its first word (zhongxin is 中心 "center" but also
    # 中信, a name).
    pinyin = pinyin_glossary() if any(w not in GENERIC_WORDS for w in words) else {}
    end = len(words)
    while end > 1 and words[end - 1] in pinyin:
        end -= 1
    words[end:] = [english for word in words[end:] for english in pinyin[word].split()]
    tokens += words
    names += [w for w in words if len(w) >= 4 and w not in GENERIC_WORDS and w[0] != "#"]


def latin_person(name: str) -> tuple[str, ...]:
    """A person's name as romanized words: 张小伟 → (zhang, xiaowei), "Xiao-Wei Zhang" →
    (xiaowei, zhang); compare them sorted, as the order differs between conventions."""
    text = fold(name)
    tokens: list[str] = []
    for run in CJK_RUN.findall(text):
        surname = run[:2] if run[:2] in COMPOUND_SURNAMES else run[:1]
        tokens.append(romanize(surname))
        if len(run) > len(surname):
            tokens.append(romanize(run[len(surname) :]))
    tokens += _latin_words(CJK_RUN.sub(" ", text))
    return tuple(tokens)


def canonical_place(value: Any) -> str | None:
    """A city or province, comparable across scripts: 上海市 / Shanghai / SHANGHAI → shanghai."""
    if not isinstance(value, str) or not value.strip():
        return None
    return _place(value)


@functools.lru_cache(maxsize=4096)
def _place(value: str) -> str | None:
    text = fold(value)
    if CJK.search(text):
        text = strip_admin(NOT_WORD.sub("", text)) or text
        text = re.sub(r"(?:省|市|自治区|特别行政区)$", "", text) or text
        return romanize(text)
    words = [w for w in _latin_words(text) if w not in LOCALITY_WORDS]
    return "".join(words) or None


def normalize_phone(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    head = re.split(r"(?i)ext|转|x|#", value, maxsplit=1)[0]
    digits = re.sub(r"\D", "", head)
    if digits.startswith("00"):
        digits = digits[2:]
    if digits.startswith("86") and (len(digits) >= 12 or head.strip().startswith("+")):
        digits = digits[2:]
    digits = digits.lstrip("0")
    return digits if len(digits) >= 7 else None


def web_domain(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = fold(value)
    text = re.sub(r"^[a-z][a-z0-9+.\-]*://", "", text)
    host = re.split(r"[/?#:]", text, maxsplit=1)[0].strip(".")
    host = host.removeprefix("www.")
    return host or None


def email_address(value: Any) -> str | None:
    if not isinstance(value, str) or "@" not in value:
        return None
    return fold(value)


def email_domain(value: Any) -> str | None:
    address = email_address(value)
    if address is None:
        return None
    domain = address.rsplit("@", 1)[1]
    return None if domain in FREE_MAIL else domain


def normalize_tax_id(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    code = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", value)).upper()
    return code or None


def external_ids(value: Any) -> frozenset[tuple[str, str]]:
    """``{"erp": "C-1001"}`` or ``[{"system": "erp", "id": "C-1001"}]`` → {(erp, c-1001)}."""
    pairs: set[tuple[str, str]] = set()
    if isinstance(value, Mapping):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list):
        items = [
            (item.get("system") or item.get("source"), item.get("id") or item.get("value"))
            for item in value
            if isinstance(item, Mapping)
        ]
    else:
        items = ()
    for system, identifier in items:
        if isinstance(system, str) and isinstance(identifier, str | int) and str(identifier):
            pairs.add((fold(system), fold(str(identifier))))
    return frozenset(pairs)


# -- profiles: what a record or a payload says about its identity ------------------------------


@dataclass(frozen=True)
class Profile:
    """The identity-bearing values of one record or payload, normalized for comparison."""

    kind: Literal["organization", "person"]
    record_id: str | None
    name: str | None = None  # canonical
    core: str | None = None  # canonical without the leading own city/province
    latin: tuple[str, ...] = ()
    words: frozenset[str] = frozenset()  # distinctive words of the name (blocking)
    city: str | None = None
    province: str | None = None
    tax_id: str | None = None
    external: frozenset[tuple[str, str]] = frozenset()
    phones: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    website: str | None = None
    address: str | None = None
    emails: frozenset[str] = frozenset()
    openid: str | None = None
    account: str | None = None

    @property
    def cjk(self) -> bool:
        return bool(self.name and CJK.search(self.name))

    @property
    def ordinals(self) -> frozenset[str]:
        return frozenset(t for t in self.latin if t.startswith("#"))


def _text(values: Mapping[str, Any], name: str) -> str | None:
    value = values.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def organization_profile(values: Mapping[str, Any], record_id: str | None = None) -> Profile:
    """An account (or a lead's company) as an organization profile."""
    name = _text(values, "name") or _text(values, "company")
    city = canonical_place(values.get("city"))
    province = canonical_place(values.get("province"))
    canonical = canonical_org(name) if name else None
    core = canonical if canonical and CJK.search(canonical) else None
    if core:
        for place in (values.get("province"), values.get("city")):
            prefix = canonical_org(place) if isinstance(place, str) and place.strip() else ""
            prefix = re.sub(r"(?:省|市|自治区)$", "", prefix)
            if prefix and core and core.startswith(prefix) and len(core) - len(prefix) >= 2:
                core = core[len(prefix) :]
    latin, words = org_words(name) if name else ((), frozenset())
    website = web_domain(values.get("website"))
    domains = {d for d in (website, email_domain(values.get("email"))) if d}
    phones = {p for p in (normalize_phone(values.get("phone")),) if p}
    address = _text(values, "address")
    return Profile(
        kind="organization",
        record_id=record_id,
        name=canonical or None,
        core=core or None,
        latin=latin,
        words=words,
        city=city,
        province=province,
        tax_id=normalize_tax_id(values.get("tax_id")),
        external=external_ids(values.get("external_ids")),
        phones=frozenset(phones),
        domains=frozenset(domains),
        website=website,
        address=NOT_WORD.sub("", fold(address)) if address else None,
    )


def person_name(values: Mapping[str, Any]) -> str | None:
    full = _text(values, "full_name")
    if full:
        return full
    first, last = _text(values, "first_name"), _text(values, "last_name")
    if first and last:
        return f"{last}{first}" if CJK.search(last + first) else f"{first} {last}"
    return last or first or _text(values, "name")


def person_profile(values: Mapping[str, Any], record_id: str | None = None) -> Profile:
    """A contact (or a lead's person) as a person profile."""
    name = person_name(values)
    phones = {normalize_phone(values.get(f)) for f in ("phone", "mobile")}
    emails = {email_address(values.get("email"))}
    account = values.get("account")
    openid = _text(values, "wechat_openid")
    return Profile(
        kind="person",
        record_id=record_id,
        name=NOT_WORD.sub("", fold(name)) if name else None,
        latin=tuple(sorted(latin_person(name))) if name else (),
        city=canonical_place(values.get("city")),
        phones=frozenset(p for p in phones if p),
        emails=frozenset(e for e in emails if e),
        openid=openid,
        account=account if isinstance(account, str) else None,
    )


PROFILES: dict[str, Callable[[Mapping[str, Any], str | None], Profile]] = {
    "account": organization_profile,
    "contact": person_profile,
}
# Fields whose values shape a record's blocking keys: other updates leave the keys alone.
KEY_FIELDS: dict[str, frozenset[str]] = {
    "account": frozenset(
        {"name", "city", "province", "tax_id", "external_ids", "phone", "website", "email"}
    ),
    "contact": frozenset(
        {"full_name", "first_name", "last_name", "email", "phone", "mobile", "wechat_openid"}
        | {"account", "city"}
    ),
}


def blocking_keys(profile: Profile) -> set[str]:
    """The keys under which a profile is found (plain text; stored as keyed digests)."""
    keys: set[str] = set()
    latin = " ".join(sorted(set(profile.latin)))
    places = {p for p in (profile.city, profile.province) if p}
    if profile.kind == "organization":
        if profile.tax_id:
            keys.add(f"tax:{profile.tax_id}")
        keys.update(f"ext:{system}:{value}" for system, value in profile.external)
        keys.update(f"phone:{phone}" for phone in profile.phones)
        keys.update(f"domain:{domain}" for domain in profile.domains)
        if profile.name:
            keys.add(f"name:{profile.name}")
        if profile.core and profile.city:
            keys.add(f"core:{profile.core}|{profile.city}")
        if latin:
            keys.add(f"latin:{latin}")
            # Syllables written apart ("An He Hospital") meet the word (anhe hospital).
            keys.add(f"flat:{''.join(t for t in profile.latin if t[0] != '#')}")
            local = " ".join(sorted({t for t in profile.latin if t not in places}))
            for place in places:
                keys.add(f"latin:{local}|{place}")
        keys.update(f"word:{word}" for word in profile.words - places)
    else:
        keys.update(f"email:{email}" for email in profile.emails)
        keys.update(f"phone:{phone}" for phone in profile.phones)
        if profile.openid:
            keys.add(f"openid:{profile.openid}")
        if latin:
            keys.add(f"person:{latin}")
            if profile.account:
                keys.add(f"person:{latin}|{profile.account}")
            if profile.city:
                keys.add(f"person:{latin}|{profile.city}")
    return keys


# -- 2. scoring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    """One piece of evidence: how much it can weigh, how similar the values are, what it
    added to the log-odds (negative for disagreement), and the same in words."""

    feature: str
    weight: float
    similarity: float | None
    contribution: float
    explanation: str
    conflict: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "weight": self.weight,
            "similarity": None if self.similarity is None else round(self.similarity, 3),
            "contribution": round(self.contribution, 2),
            "explanation": self.explanation,
            "conflict": self.conflict,
        }


@dataclass(frozen=True)
class Match:
    record_id: str
    score: float
    decision: Decision
    features: tuple[Feature, ...]

    @property
    def conflict(self) -> bool:
        return any(f.conflict for f in self.features)

    def summary(self) -> str:
        label = {
            "auto_merge": "Safe to merge automatically",
            "review": "Needs review",
            "no_match": "Not a match",
        }[self.decision]
        strongest = sorted(self.features, key=lambda f: -abs(f.contribution))[:3]
        reasons = "; ".join(f.explanation.rstrip(".") for f in strongest if f.contribution)
        return f"{label} ({self.score:.0%}): {reasons}." if reasons else f"{label}."

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "decision": self.decision,
            "summary": self.summary(),
            "features": [f.to_dict() for f in self.features],
        }


# Prior log-odds that two records sharing a blocking key are the same entity.
PRIOR = {"organization": -4.0, "person": -5.0}


def _graded(weight: float, similarity: float, floor: float = 0.75) -> float:
    """Evidence from a similarity: full weight at 1.0, none at ``floor``, negative below."""
    return weight * max(-1.0, min(1.0, (similarity - floor) / (1.0 - floor)))


def _name_similarity(a: Profile, b: Profile) -> tuple[float, str]:
    """The best similarity of two organization names and what it compared: characters when
    both are Chinese (homophones are different names), words across scripts."""
    scores: list[tuple[float, str]] = []
    if a.cjk and b.cjk:
        scores.append((fuzz.ratio(a.name or "", b.name or "") / 100, "characters"))
        if a.city and a.city == b.city and a.core and b.core:
            # Same city: "第一人民医院" in Shanghai is "上海第一人民医院".
            scores.append((fuzz.ratio(a.core, b.core) / 100, "characters"))
    elif a.latin and b.latin:
        scores.append((_word_similarity(a.latin, b.latin), "words"))
        if a.city and a.city == b.city:
            # Same city: "Beijing Anhe Hospital" in Beijing is "安和医院".
            places = {p for p in (a.city, a.province, b.province) if p}
            local_a = tuple(w for w in a.latin if w not in places)
            local_b = tuple(w for w in b.latin if w not in places)
            if local_a and local_b:
                scores.append((_word_similarity(local_a, local_b), "words"))
        if not a.cjk and not b.cjk and a.name and b.name:
            scores.append((fuzz.ratio(a.name, b.name) / 100, "characters"))
    return max(scores) if scores else (0.0, "characters")


def _word_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Names as English/pinyin words, in any order; no more than their proper names are
    alike (the generic words agreeing, "… hospital", says little when the names differ)."""
    left, right = _aligned(a, b), _aligned(b, a)
    words = fuzz.token_sort_ratio(" ".join(left), " ".join(right)) / 100
    distinct = _distinctive_similarity(left, right)
    return words if distinct is None else min(words, distinct)


def _aligned(words: tuple[str, ...], other: tuple[str, ...]) -> tuple[str, ...]:
    """``words`` with runs of two to four words joined where the result is a word of
    ``other``: pinyin written syllable by syllable ("An He") meets the word (anhe)."""
    targets = set(other) - set(words)
    if not targets:
        return words
    out: list[str] = []
    position = 0
    while position < len(words):
        for size in (4, 3, 2):
            joined = "".join(words[position : position + size])
            if position + size <= len(words) and joined in targets:
                out.append(joined)
                position += size
                break
        else:
            out.append(words[position])
            position += 1
    return tuple(out)


def _distinctive_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float | None:
    """How alike the proper names of two names are (tone-less pinyin, "anhe" vs "xiehe"),
    once the words they share are set aside; None when one side has nothing left."""
    proper_a = {w for w in a if w not in GENERIC_WORDS and w[0] != "#"}
    proper_b = {w for w in b if w not in GENERIC_WORDS and w[0] != "#"}
    only_a, only_b = proper_a - proper_b, proper_b - proper_a
    if not only_a or not only_b:
        return None
    return fuzz.ratio("".join(sorted(only_a)), "".join(sorted(only_b))) / 100


def _organization_features(a: Profile, b: Profile) -> list[Feature]:
    features: list[Feature] = []
    if a.tax_id and b.tax_id:
        if a.tax_id == b.tax_id:
            features.append(
                Feature(
                    "tax_id",
                    10.0,
                    1.0,
                    10.0,
                    "Both carry the same unified social credit code (tax id), which "
                    "identifies one legal entity.",
                )
            )
        elif credit_code_checks_out(a.tax_id) != credit_code_checks_out(b.tax_id):
            features.append(
                Feature(
                    "tax_id",
                    10.0,
                    fuzz.ratio(a.tax_id, b.tax_id) / 100,
                    0.0,
                    "The tax ids differ, but one of them fails the code's checksum (a likely "
                    "typing error), so the difference is not counted.",
                )
            )
        else:
            features.append(
                Feature(
                    "tax_id",
                    10.0,
                    0.0,
                    -14.0,
                    "The unified social credit codes (tax ids) differ: these are two distinct "
                    "legal entities.",
                    conflict=True,
                )
            )
    shared_systems = {s for s, _ in a.external} & {s for s, _ in b.external}
    if a.external & b.external:
        systems = ", ".join(sorted({s for s, _ in a.external & b.external}))
        features.append(
            Feature(
                "external_id", 9.0, 1.0, 9.0, f"Both carry the same id in the {systems} system."
            )
        )
    elif shared_systems:
        systems = ", ".join(sorted(shared_systems))
        features.append(
            Feature(
                "external_id",
                9.0,
                0.0,
                -3.0,
                f"Both have an id in the {systems} system, but different ones: that system "
                "holds them as two records.",
            )
        )
    if a.name and b.name:
        similarity, how = _name_similarity(a, b)
        if similarity >= 0.999:
            words = (
                "The names are identical after normalization (administrative suffixes, legal "
                "forms, full-width characters, punctuation and case ignored)."
                if how == "characters"
                else "The names say the same across languages (translated and romanized, "
                "the words agree)."
            )
        else:
            unit = "characters" if how == "characters" else "translated/romanized words"
            words = f"The names are {similarity:.0%} similar (by {unit}, after normalization)."
        features.append(Feature("name", 6.0, similarity, _graded(6.0, similarity), words))
        if a.ordinals and b.ordinals and a.ordinals != b.ordinals:
            features.append(
                Feature(
                    "name_number",
                    6.0,
                    0.0,
                    -6.0,
                    "The names carry different numbers (such as 第一 / First vs 第二 / Second): "
                    "usually different organizations.",
                    conflict=True,
                )
            )
    if a.city and b.city:
        if a.city == b.city:
            features.append(Feature("city", 1.5, 1.0, 1.5, "Same city."))
        else:
            features.append(
                Feature("city", 1.5, 0.0, -4.0, "Different cities: likely different sites.")
            )
    elif a.province and b.province:
        if a.province == b.province:
            features.append(Feature("province", 0.5, 1.0, 0.5, "Same province."))
        else:
            features.append(Feature("province", 0.5, 0.0, -3.0, "Different provinces."))
    if a.phones and b.phones:
        if a.phones & b.phones:
            features.append(Feature("phone", 4.0, 1.0, 4.0, "Same phone number."))
        else:
            features.append(
                Feature(
                    "phone",
                    4.0,
                    0.0,
                    0.0,
                    "Different phone numbers (organizations have many, so not counted).",
                )
            )
    if a.domains and b.domains:
        if a.domains & b.domains:
            features.append(Feature("domain", 4.0, 1.0, 4.0, "Same web or email domain."))
        elif a.website and b.website:
            features.append(Feature("domain", 4.0, 0.0, -1.0, "Different websites."))
    if a.address and b.address:
        similarity = fuzz.ratio(a.address, b.address) / 100
        if similarity >= 0.85:
            features.append(
                Feature(
                    "address",
                    2.0,
                    similarity,
                    _graded(2.0, similarity, 0.85),
                    f"The addresses are {similarity:.0%} similar.",
                )
            )
    return features


def _person_features(a: Profile, b: Profile) -> list[Feature]:
    features: list[Feature] = []
    if a.emails and b.emails:
        if a.emails & b.emails:
            features.append(Feature("email", 9.0, 1.0, 9.0, "Same email address."))
        else:
            features.append(
                Feature(
                    "email",
                    9.0,
                    0.0,
                    -1.0,
                    "Different email addresses (people often have several, so it counts little).",
                )
            )
    if a.phones and b.phones and a.phones & b.phones:
        features.append(Feature("phone", 7.0, 1.0, 7.0, "Same phone number."))
    if a.openid and b.openid:
        if a.openid == b.openid:
            features.append(Feature("wechat_openid", 10.0, 1.0, 10.0, "Same WeChat account."))
        else:
            features.append(
                Feature(
                    "wechat_openid",
                    10.0,
                    0.0,
                    -4.0,
                    "Different WeChat accounts.",
                    conflict=True,
                )
            )
    if a.latin and b.latin:
        if a.cjk and b.cjk and a.name and b.name:
            similarity = fuzz.ratio(a.name, b.name) / 100
            unit = "characters"
        else:
            similarity = fuzz.ratio(" ".join(a.latin), " ".join(b.latin)) / 100
            unit = "romanized words"
        words = (
            "The names are the same."
            if similarity >= 0.999
            else f"The names are {similarity:.0%} similar (by {unit})."
        )
        features.append(Feature("name", 5.0, similarity, _graded(5.0, similarity, 0.8), words))
    if a.account and b.account:
        if a.account == b.account:
            features.append(Feature("account", 3.0, 1.0, 3.0, "Same account."))
        else:
            features.append(Feature("account", 3.0, 0.0, -2.0, "Different accounts."))
    if a.city and b.city:
        if a.city == b.city:
            features.append(Feature("city", 0.5, 1.0, 0.5, "Same city."))
        else:
            features.append(Feature("city", 0.5, 0.0, -1.0, "Different cities."))
    return features


def score(a: Profile, b: Profile, thresholds: Thresholds, record_id: str = "") -> Match:
    """How likely ``a`` and ``b`` are the same entity, with every feature explained."""
    features = _organization_features(a, b) if a.kind == "organization" else _person_features(a, b)
    logit = PRIOR[a.kind] + sum(f.contribution for f in features)
    probability = round(1.0 / (1.0 + math.exp(-logit)), 4)
    conflict = any(f.conflict for f in features)
    return Match(
        record_id or (b.record_id or ""),
        probability,
        thresholds.decide(probability, conflict),
        tuple(features),
    )


# -- 3. the service ----------------------------------------------------------------------------

Unseal = Callable[[Session, str, str, Any], Any]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return [value] if isinstance(value, str) and value else []


def _iso(value: dt.datetime | None) -> str | None:
    return format_datetime(value) if value is not None else None


def _lead_values(target: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """A lead read as the object it may become: its company as an account, its person as a
    contact."""
    if target == "account":
        return {
            "name": values.get("company"),
            "email": values.get("email"),
            "phone": values.get("phone"),
        }
    return {
        "full_name": values.get("name"),
        "email": values.get("email"),
        "phone": values.get("phone"),
    }


def _encode_cursor(position: tuple[float, str, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(position))).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        score_value, first, second = orjson.loads(raw)
        return float(score_value), str(first), str(second)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise ValidationFailed(
            "invalid cursor",
            errors=[field_error("/query/cursor", "invalid", "use next_cursor of a previous page")],
        ) from None


class ResolutionService:
    """Candidates, duplicates and reversible merges of accounts and contacts."""

    def __init__(
        self,
        records: RecordService,
        ledger: LedgerService,
        secret: str,
        *,
        unseal: Unseal | None = None,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.records = records
        self.ledger = ledger
        self.thresholds = thresholds or Thresholds()
        # Opens values the change-log sealers sealed (customer data keys); None: nothing is
        # sealed in this deployment.
        self._unseal = unseal
        self._key = hashlib.sha256(b"kindred identity keys\x00" + secret.encode()).digest()

    # -- the blocking index --------------------------------------------------------------------

    def digest(self, key: str) -> str:
        return hmac.new(self._key, key.encode(), hashlib.sha256).hexdigest()[:32]

    def on_record_change(self, session: Session, entries: list[dict[str, Any]]) -> None:
        """Records change hook: keep the blocking keys of accounts and contacts in step."""
        created: dict[str, list[str]] = defaultdict(list)
        changed: dict[str, list[str]] = defaultdict(list)
        deleted: list[str] = []
        for entry in entries:
            object_name = entry["object"]
            if object_name not in PROFILES:
                continue
            record_id = str(entry["record_id"])
            action = entry["action"]
            if action == "create":
                created[object_name].append(record_id)
            elif action == "update" and KEY_FIELDS[object_name] & (entry.get("after") or {}).keys():
                changed[object_name].append(record_id)
            elif action == "delete":
                deleted.append(record_id)
        stale = deleted + [i for ids in changed.values() for i in ids]
        for start in range(0, len(stale), 500):
            session.execute(
                sa.delete(keys_table).where(keys_table.c.record_id.in_(stale[start : start + 500]))
            )
        for group in (created, changed):
            for object_name, ids in group.items():
                self._index(session, object_name, ids)

    def _index(self, session: Session, object_name: str, ids: Sequence[str]) -> int:
        make = PROFILES[object_name]
        rows: set[tuple[str, str, str]] = set()
        for start in range(0, len(ids), 500):
            found = session.execute(
                sa.select(records_table.c.id, records_table.c.data).where(
                    records_table.c.id.in_(ids[start : start + 500])
                )
            ).all()
            for record_id, data in found:
                for key in blocking_keys(make(data, record_id)):
                    rows.add((object_name, self.digest(key), record_id))
        if rows:
            BulkInserter(session).insert(
                "identity_keys", ("object", "key", "record_id"), sorted(rows)
            )
        return len(rows)

    def reindex(self, session: Session, object_name: str | None = None) -> int:
        """Index the records that have no blocking keys yet (rows written around the record
        service, e.g. the demo seed, or records older than this feature); returns how many
        records were indexed."""
        total = 0
        for name in [object_name] if object_name else sorted(PROFILES):
            missing = sa.select(records_table.c.id).where(
                records_table.c.object == name,
                ~sa.exists().where(keys_table.c.record_id == records_table.c.id),
            )
            ids = list(session.execute(missing).scalars())
            for start in range(0, len(ids), 2000):
                self._index(session, name, ids[start : start + 2000])
            total += len(ids)
        return total

    def _lookup(self, session: Session, object_name: str, profile: Profile) -> dict[str, set[str]]:
        """Record id → the kinds of blocking keys it shares with the profile."""
        found: dict[str, set[str]] = defaultdict(set)
        for key in sorted(blocking_keys(profile)):
            members = (
                session.execute(
                    sa.select(keys_table.c.record_id)
                    .where(keys_table.c.object == object_name, keys_table.c.key == self.digest(key))
                    .limit(BLOCK_CAP + 1)
                )
                .scalars()
                .all()
            )
            if len(members) > BLOCK_CAP:
                continue  # not discriminating: comparing all of them is what blocking avoids
            for member in members:
                found[member].add(key.split(":", 1)[0])
        return found

    # -- reading through the record service ------------------------------------------------------

    def _resolvable(self, session: Session, object_name: str) -> CompiledObject:
        compiled = self.records.registry(session).get(object_name)  # unknown → 404
        if object_name not in PROFILES:
            raise ValidationFailed(
                f"identity resolution does not cover {object_name!r}",
                errors=[
                    field_error(
                        "/object",
                        "not_resolvable",
                        f"one of: {', '.join(sorted(PROFILES))}",
                    )
                ],
            )
        return compiled

    def _present(
        self, session: Session, context: RequestContext, object_name: str, ids: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        """The records among ``ids`` the caller may see, as the record service presents them
        (field permissions, visibility, consent checks under the declared purpose)."""
        wanted = sorted(set(ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 200):
            chunk = wanted[start : start + 200]
            page = self.records.list_records(
                session,
                context,
                object_name,
                ListQuery(filters=[FieldFilter("id", "in", ",".join(chunk))], limit=200),
            )
            found.update({record["id"]: record for record in page.data})
        return found

    def _object_of(self, session: Session, context: RequestContext, record_id: str) -> str:
        """The object of a record the caller may see; the same 404 for an absent record and
        one they may not see (neither its existence nor its type leaks)."""
        found = session.execute(
            sa.select(records_table.c.object).where(records_table.c.id == record_id)
        ).scalar()
        if found is not None:
            compiled = self.records.registry(session).get(found)
            permission = context.principal.permission(found)
            visible = RecordService.visibility(compiled, permission, context.principal)
            statement = sa.select(records_table.c.id).where(records_table.c.id == record_id)
            if permission.can("read") and (
                visible is None or session.execute(statement.where(visible)).first()
            ):
                return str(found)
        raise NotFound(f"no record with id '{record_id}'")

    def _query_profile(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        record_id: str | None,
        values: Any,
        source_object: str | None,
    ) -> tuple[Profile, dict[str, Any]]:
        if (record_id is None) == (values is None):
            raise ValidationFailed(
                "send either a record id or values to match",
                errors=[field_error("/", "one_of", "exactly one of 'record' and 'values'")],
            )
        allowed = SOURCES[object_name]
        if record_id is not None:
            found = self._object_of(session, context, record_id)
            if found not in allowed:
                raise ValidationFailed(
                    f"a {found} cannot be matched against {object_name} records",
                    errors=[
                        field_error("/record", "wrong_object", f"a record of: {', '.join(allowed)}")
                    ],
                )
            presented, _ = self.records.get(session, context, found, record_id)
            source, data = found, presented
            query: dict[str, Any] = {"record": record_id, "object": found}
        else:
            source = source_object or object_name
            if source not in allowed:
                raise ValidationFailed(
                    f"values of a {source} cannot be matched against {object_name} records",
                    errors=[
                        field_error(
                            "/source_object", "wrong_object", f"one of: {', '.join(allowed)}"
                        )
                    ],
                )
            data = self._checked_values(session, source, values)
            query = {"values": data, "object": source}
        if source == "lead":
            data = _lead_values(object_name, data)
        return PROFILES[object_name](data, record_id), query

    def _checked_values(self, session: Session, object_name: str, values: Any) -> dict[str, Any]:
        if not isinstance(values, dict):
            raise MalformedRequest("'values' must be a JSON object of field values")
        compiled = self.records.registry(session).get(object_name)
        checked: dict[str, Any] = {}
        errors = []
        for name, value in values.items():
            if name not in compiled.fields:
                errors.append(
                    field_error(
                        f"/values/{name}", "unknown_field", f"'{object_name}' has no field '{name}'"
                    )
                )
                continue
            if value is None:
                continue
            try:
                checked[name] = compiled.checkers[name](value)
            except FieldValueError as error:
                errors.append(field_error(f"/values/{name}", error.code, error.message))
        if errors:
            raise ValidationFailed("the values to match are invalid", errors=errors)
        return checked

    # -- matching ----------------------------------------------------------------------------------

    def candidates(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        *,
        record_id: str | None = None,
        values: Any = None,
        source_object: str | None = None,
        limit: int = 10,
        min_score: float = 0.05,
    ) -> dict[str, Any]:
        """Records of ``object_name`` that may be the same entity as a record (an account, a
        contact, or a lead to convert) or as values not yet saved (a lead form), best first,
        each with its score, decision and features explained."""
        self._resolvable(session, object_name)
        if not 1 <= limit <= MAX_CANDIDATES:
            raise ValidationFailed(
                "limit out of range",
                errors=[field_error("/limit", "range", f"1 to {MAX_CANDIDATES}")],
            )
        profile, query = self._query_profile(
            session, context, object_name, record_id, values, source_object
        )
        found = self._lookup(session, object_name, profile)
        found.pop(record_id or "", None)
        presented = self._present(session, context, object_name, found)
        make = PROFILES[object_name]
        matches = []
        for candidate_id, record in presented.items():
            match = score(profile, make(record, candidate_id), self.thresholds, candidate_id)
            if match.score >= min_score:
                matches.append((match, record))
        matches.sort(key=lambda pair: (-pair[0].score, pair[0].record_id))
        return {
            "object": object_name,
            "query": query,
            "thresholds": self._thresholds(),
            "data": [{"record": record, **match.to_dict()} for match, record in matches[:limit]],
            "next_cursor": None,
        }

    def _thresholds(self) -> dict[str, float]:
        return {"auto_merge": self.thresholds.auto_merge, "review": self.thresholds.review}

    def _pairs(self, session: Session, object_name: str) -> tuple[list[tuple[str, str]], bool]:
        """Candidate pairs from the blocks, smallest (most telling) blocks first, at most
        ``MAX_DUPLICATE_PAIRS``; whether some were left out."""
        count = sa.func.count().label("members")
        blocks = session.execute(
            sa.select(keys_table.c.key, count)
            .where(keys_table.c.object == object_name)
            .group_by(keys_table.c.key)
            .having(count > 1, count <= PAIR_BLOCK_CAP)
            .order_by(count, keys_table.c.key)
        ).all()
        pairs: set[tuple[str, str]] = set()
        for start in range(0, len(blocks), 500):
            chunk = [key for key, _ in blocks[start : start + 500]]
            members: dict[str, list[str]] = defaultdict(list)
            for key, record_id in session.execute(
                sa.select(keys_table.c.key, keys_table.c.record_id).where(
                    keys_table.c.object == object_name, keys_table.c.key.in_(chunk)
                )
            ):
                members[key].append(record_id)
            for key in chunk:
                ids = sorted(members[key])
                for position, first in enumerate(ids):
                    for second in ids[position + 1 :]:
                        pairs.add((first, second))
                        if len(pairs) > MAX_DUPLICATE_PAIRS:
                            return sorted(pairs)[:MAX_DUPLICATE_PAIRS], True
        return sorted(pairs), False

    def duplicates(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        min_score: float | None = None,
    ) -> dict[str, Any]:
        """Pairs of visible records that score at or above the review threshold (or
        ``min_score``), best first, paged by an opaque cursor."""
        self._resolvable(session, object_name)
        threshold = self.thresholds.review if min_score is None else min_score
        after = _decode_cursor(cursor) if cursor else None
        pairs, truncated = self._pairs(session, object_name)
        presented = self._present(
            session, context, object_name, {i for pair in pairs for i in pair}
        )
        make = PROFILES[object_name]
        profiles = {i: make(record, i) for i, record in presented.items()}
        scored = []
        for a, b in pairs:
            if a not in profiles or b not in profiles:
                continue  # one of them is not visible to the caller
            match = score(profiles[a], profiles[b], self.thresholds, b)
            if match.score >= threshold:
                scored.append((match.score, a, b, match))
        scored.sort(key=lambda item: (-item[0], item[1], item[2]))
        if after is not None:
            scored = [s for s in scored if (-s[0], s[1], s[2]) > (-after[0], after[1], after[2])]
        page = scored[:limit]
        next_cursor = (
            _encode_cursor((page[-1][0], page[-1][1], page[-1][2])) if len(scored) > limit else None
        )
        return {
            "object": object_name,
            "thresholds": self._thresholds(),
            "data": [
                {"records": [presented[a], presented[b]], **match.to_dict()}
                for _, a, b, match in page
            ],
            "next_cursor": next_cursor,
            "truncated": truncated,
        }

    # -- merges ------------------------------------------------------------------------------------

    def _require(self, context: RequestContext, compiled: CompiledObject, *actions: str) -> None:
        permission = context.principal.permission(compiled.name)
        missing = [a for a in actions if not permission.can(a)]  # type: ignore[arg-type]
        if missing:
            label = compiled.definition.label_plural.lower()
            raise PermissionDenied(
                f"merging {label} needs permission to {' and '.join(actions)} them; "
                f"you may not {' or '.join(missing)} {label}"
            )

    def _raw(
        self,
        session: Session,
        context: RequestContext,
        compiled: CompiledObject,
        record_id: str,
        *,
        for_update: bool = True,
    ) -> Any:
        """The stored row of a record the caller may see, locked for the merge."""
        permission = context.principal.permission(compiled.name)
        statement = sa.select(records_table).where(records_table.c.id == record_id)
        visible = RecordService.visibility(compiled, permission, context.principal)
        if visible is not None:
            statement = statement.where(visible)
        if for_update:
            statement = statement.with_for_update()
        row = session.execute(statement).first()
        if row is None or row.object != compiled.name:
            raise NotFound(f"no {compiled.name} with id '{record_id}'")
        return row

    def _seal(
        self, session: Session, object_name: str, record_id: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        """Customer-authorized values sealed under the customer's data key, exactly as the
        change history seals them (the record service's change-log sealers)."""
        entry: dict[str, Any] = {
            "object": object_name,
            "record_id": record_id,
            "before": None,
            "after": dict(values),
        }
        for sealer in self.records.change_log_sealers:
            sealer(session, [entry])
        return dict(entry["after"])

    def _open(
        self, session: Session, object_name: str, record_id: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        if not any(isinstance(v, dict) and SEALED in v for v in values.values()):
            return dict(values)
        if self._unseal is None:
            raise RuntimeError("sealed merge data, but no unsealer is configured")
        return dict(self._unseal(session, object_name, record_id, values))

    def _survivorship(
        self,
        compiled: CompiledObject,
        context: RequestContext,
        survivor: Any,
        duplicate: Any,
        overrides: Mapping[str, Any],
        take: Sequence[str],
    ) -> tuple[dict[str, Any], list[str]]:
        """The patch for the survivor: each field keeps the survivor's value unless it is
        empty (then the duplicate's); json objects and lists are united (survivor first);
        ``take`` fields take the duplicate's value; ``overrides`` set explicit values."""
        permission = context.principal.permission(compiled.name)
        mine, theirs = survivor.data, duplicate.data
        patch: dict[str, Any] = {}
        skipped: list[str] = []
        for definition in compiled.definition.fields:
            name = definition.name
            if name in overrides:
                patch[name] = overrides[name]
                continue
            current, other = mine.get(name), theirs.get(name)
            if definition.type is FieldType.RELATION:
                # Never point the survivor at itself or at the record about to disappear.
                if isinstance(other, list):
                    other = [v for v in other if v not in (survivor.id, duplicate.id)]
                elif other in (survivor.id, duplicate.id):
                    other = None
            if name in take:
                value = other
            elif _empty(other):
                continue
            elif _empty(current):
                value = other
            elif isinstance(current, dict) and isinstance(other, dict):
                value = {**other, **current}
            elif isinstance(current, list) and isinstance(other, list):
                value = current + [v for v in other if v not in current]
            else:
                continue
            if value == current or (_empty(value) and _empty(current)):
                continue
            if not permission.can_write_field(name):
                skipped.append(name)
                continue
            patch[name] = value
        return patch, skipped

    def _check_merge_request(
        self,
        compiled: CompiledObject,
        context: RequestContext,
        survivor_id: str,
        duplicate_id: str,
        overrides: Mapping[str, Any],
        take: Sequence[str],
        self_edges: set[str],
    ) -> None:
        """Refuse bad instructions before anything is written (the record service checks the
        survivor's write again; this is so a refusal never follows the first writes)."""
        permission = context.principal.permission(compiled.name)
        errors = []
        for name, value in overrides.items():
            if name not in compiled.fields:
                errors.append(
                    field_error(
                        f"/overrides/{name}",
                        "unknown_field",
                        f"'{compiled.name}' has no field '{name}'",
                    )
                )
            elif duplicate_id in _as_list(value):
                errors.append(
                    field_error(
                        f"/overrides/{name}",
                        "points_at_duplicate",
                        "the duplicate is removed by the merge: it cannot be referenced",
                    )
                )
            elif name in self_edges:
                errors.append(
                    field_error(
                        f"/overrides/{name}",
                        "points_at_duplicate",
                        "the survivor's value points at the duplicate; the merge clears it, "
                        "change it afterwards",
                    )
                )
            elif not permission.can_write_field(name):
                errors.append(
                    field_error(
                        f"/overrides/{name}", "forbidden_field", f"you may not write '{name}'"
                    )
                )
            elif value is not None:
                try:
                    compiled.checkers[name](value)
                except FieldValueError as error:
                    errors.append(field_error(f"/overrides/{name}", error.code, error.message))
        for position, name in enumerate(take):
            if name not in compiled.fields:
                errors.append(
                    field_error(
                        f"/take_from_duplicate/{position}",
                        "unknown_field",
                        f"'{compiled.name}' has no field '{name}'",
                    )
                )
            elif name in overrides:
                errors.append(
                    field_error(
                        f"/take_from_duplicate/{position}",
                        "duplicate_instruction",
                        f"'{name}' also has an override",
                    )
                )
        if errors:
            raise ValidationFailed("the merge instructions are invalid", errors=errors)

    def _referencing(self, session: Session, duplicate_id: str) -> dict[tuple[str, str], set[str]]:
        """(object, record id) → the relation fields of that record pointing at the duplicate."""
        found: dict[tuple[str, str], set[str]] = defaultdict(set)
        for relation, source in session.execute(
            sa.select(links_table.c.relation, links_table.c.source_id).where(
                links_table.c.target_id == duplicate_id,
                links_table.c.source_id != duplicate_id,
            )
        ):
            object_name, _, field_name = relation.partition(".")
            found[(object_name, source)].add(field_name)
        return found

    def _check_repoint_access(
        self,
        session: Session,
        context: RequestContext,
        referencing: Mapping[tuple[str, str], set[str]],
    ) -> None:
        """Every referencing record must be one the caller may update (the re-pointing goes
        through the record service as them); say which ones are not, before writing."""
        by_object: dict[str, dict[str, set[str]]] = defaultdict(dict)
        for (object_name, record_id), names in referencing.items():
            by_object[object_name][record_id] = names
        problems = []
        registry = self.records.registry(session)
        for object_name, members in sorted(by_object.items()):
            compiled = registry.get(object_name)
            permission = context.principal.permission(object_name)
            wanted = sorted({n for fields in members.values() for n in fields})
            if not permission.can("update") or not all(map(permission.can_write_field, wanted)):
                problems.append(f"{len(members)} {compiled.definition.label_plural.lower()}")
                continue
            visible = RecordService.visibility(compiled, permission, context.principal)
            if visible is None:
                continue
            ids = sorted(members)
            seen = 0
            for start in range(0, len(ids), 500):
                seen += session.execute(
                    sa.select(sa.func.count())
                    .select_from(records_table)
                    .where(records_table.c.id.in_(ids[start : start + 500]), visible)
                ).scalar_one()
            if seen < len(ids):
                label = compiled.definition.label_plural.lower()
                problems.append(f"{len(ids) - seen} {label} outside what you may see")
        if problems:
            raise PermissionDenied(
                "the merge must re-point records you may not update: " + ", ".join(problems),
                not_updatable=problems,
            )

    def merge(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        survivor_id: str,
        duplicate_id: str,
        *,
        overrides: Mapping[str, Any] | None = None,
        take_from_duplicate: Sequence[str] = (),
        survivor_version: int | None = None,
        duplicate_version: int | None = None,
    ) -> dict[str, Any]:
        """Merge ``duplicate`` into ``survivor``; returns the merge (its id undoes it)."""
        compiled = self._resolvable(session, object_name)
        if survivor_id == duplicate_id:
            raise ValidationFailed(
                "a record cannot be merged with itself",
                errors=[
                    field_error("/duplicate", "same_record", "survivor and duplicate are equal")
                ],
            )
        self._require(context, compiled, "update", "delete")
        for record_id, path in ((survivor_id, "/survivor"), (duplicate_id, "/duplicate")):
            found = self._object_of(session, context, record_id)
            if found != object_name:
                raise ValidationFailed(
                    "both records must be of the merged object",
                    errors=[field_error(path, "wrong_object", f"{record_id} is a {found}")],
                )
        survivor = self._raw(session, context, compiled, survivor_id)
        duplicate = self._raw(session, context, compiled, duplicate_id)
        for row, expected in ((survivor, survivor_version), (duplicate, duplicate_version)):
            if expected is not None and row.version != expected:
                raise PreconditionFailed(
                    f"{object_name} {row.id} is at version {row.version}, not {expected}",
                    current_version=row.version,
                )
        overrides = dict(overrides or {})
        take = list(take_from_duplicate)
        referencing = self._referencing(session, duplicate_id)
        self_edges = referencing.pop((object_name, survivor_id), set())
        self._check_merge_request(
            compiled, context, survivor_id, duplicate_id, overrides, take, self_edges
        )
        self._check_repoint_access(session, context, referencing)
        patch, skipped = self._survivorship(compiled, context, survivor, duplicate, overrides, take)
        # Scored as the caller sees the two records: the features kept with the merge (and
        # shown with it) must not rest on values their consent check withholds.
        shown = self._present(session, context, object_name, [survivor_id, duplicate_id])
        match = score(
            PROFILES[object_name](shown[survivor_id], survivor_id),
            PROFILES[object_name](shown[duplicate_id], duplicate_id),
            self.thresholds,
            duplicate_id,
        )

        # 1. Every edge into the duplicate now points at the survivor (change-logged).
        edges = self._repoint(session, context, referencing, duplicate_id, survivor_id)
        if self_edges:
            fields = {name: survivor.data.get(name) for name in sorted(self_edges)}
            cleared = {
                name: ([v for v in value if v != duplicate_id] or None)
                if isinstance(value, list)
                else None
                for name, value in fields.items()
            }
            self.records.update(session, context, object_name, survivor_id, cleared, if_match=None)
            edges += [
                {
                    "object": object_name,
                    "record_id": survivor_id,
                    "field": name,
                    "before": fields[name],
                    "after": cleared[name],
                }
                for name in sorted(cleared)
            ]
        # 2. The duplicate leaves normal reads (its delete is change-logged with its data).
        self.records.delete(session, context, object_name, duplicate_id, if_match=None)
        # 3. The survivor takes what it lacked (after the delete: unique values move over).
        before_row = self._raw(session, context, compiled, survivor_id)
        if patch:
            self.records.update(session, context, object_name, survivor_id, patch, if_match=None)
        after_row = self._raw(session, context, compiled, survivor_id)
        changed = sorted(
            name for name in patch if before_row.data.get(name) != after_row.data.get(name)
        )
        merge_id = new_id()
        merge = IdentityMerge(
            id=merge_id,
            object=object_name,
            survivor_id=survivor_id,
            duplicate_id=duplicate_id,
            state="merged",
            score=match.score,
            features=[f.to_dict() for f in match.features],
            duplicate={
                "data": self._seal(session, object_name, duplicate_id, dict(duplicate.data)),
                "version": duplicate.version,
                # Full precision: undo restores the record's creation time exactly.
                "created_at": duplicate.created_at.isoformat() if duplicate.created_at else None,
                "created_by": duplicate.created_by,
            },
            survivor_before=self._seal(
                session,
                object_name,
                survivor_id,
                {n: before_row.data.get(n) for n in changed},
            ),
            survivor_after=self._seal(
                session,
                object_name,
                survivor_id,
                {n: after_row.data.get(n) for n in changed},
            ),
            edges=edges,
            actor_id=context.principal.user_id,
            request_id=context.request_id,
            created_at=utcnow(),
        )
        session.add(merge)
        self._log(session, context, merge, "merge")
        merge.ledger_index = self.ledger.append(
            session,
            "resolution.merge",
            {
                "merge": merge_id,
                "object": object_name,
                "survivor": survivor_id,
                "duplicate": duplicate_id,
                "fields": changed,
                "edges": len(edges),
                "score": match.score,
                "actor": context.principal.user_id,
                "request_id": context.request_id,
            },
            [merge_id],
        )
        session.flush()
        view = self._view(session, context, merge)
        view["skipped_fields"] = skipped
        view["survivor_record"], _ = self.records.get(session, context, object_name, survivor_id)
        return view

    def _repoint(
        self,
        session: Session,
        context: RequestContext,
        referencing: Mapping[tuple[str, str], set[str]],
        old: str,
        new: str,
    ) -> list[dict[str, Any]]:
        """Point the relation fields of ``referencing`` from ``old`` to ``new`` through the
        record service; returns each field's value before and after."""
        edges: list[dict[str, Any]] = []
        by_object: dict[str, list[tuple[str, set[str]]]] = defaultdict(list)
        for (object_name, record_id), names in sorted(referencing.items()):
            by_object[object_name].append((record_id, names))
        for object_name, members in sorted(by_object.items()):
            ids = [record_id for record_id, _ in members]
            data = dict(
                session.execute(
                    sa.select(records_table.c.id, records_table.c.data).where(
                        records_table.c.id.in_(ids)
                    )
                ).all()
            )
            items = []
            for record_id, names in members:
                item: dict[str, Any] = {"id": record_id}
                for name in sorted(names):
                    value = data[record_id].get(name)
                    if isinstance(value, list):
                        moved = [new if v == old else v for v in value]
                        after: Any = [v for i, v in enumerate(moved) if v not in moved[:i]]
                    else:
                        after = new
                    item[name] = after
                    edges.append(
                        {
                            "object": object_name,
                            "record_id": record_id,
                            "field": name,
                            "before": value,
                            "after": after,
                        }
                    )
                items.append(item)
            for start in range(0, len(items), 1000):
                self.records.bulk(
                    session,
                    context,
                    object_name,
                    "update",
                    items[start : start + 1000],
                    present_results=False,
                )
        return edges

    def _log(
        self, session: Session, context: RequestContext, merge: IdentityMerge, action: str
    ) -> None:
        """The merge (or its undo) in both records' change history: ids only, no values."""
        now = utcnow()
        for record_id, role, other in (
            (merge.survivor_id, "survivor", merge.duplicate_id),
            (merge.duplicate_id, "duplicate", merge.survivor_id),
        ):
            session.add(
                ChangeLogEntry(
                    object=merge.object,
                    record_id=record_id,
                    action=action,
                    actor_id=context.principal.user_id,
                    request_id=context.request_id,
                    before=None,
                    after={"$merge": {"merge": merge.id, "role": role, "other": other}},
                    created_at=now,
                )
            )

    # -- undo ---------------------------------------------------------------------------------

    def _load_merge(
        self, session: Session, merge_id: str, *, for_update: bool = False
    ) -> IdentityMerge:
        statement = sa.select(IdentityMerge).where(IdentityMerge.id == merge_id)
        if for_update:
            statement = statement.with_for_update()
        merge = session.execute(statement).scalar()
        if merge is None:
            raise NotFound(f"no merge with id '{merge_id}'")
        return merge

    def _check_visible(
        self, session: Session, context: RequestContext, merge: IdentityMerge
    ) -> CompiledObject:
        """A merge is visible to whoever may see its survivor (or, once undone, either record);
        anyone else gets the same 404 as for a merge that does not exist."""
        compiled = self.records.registry(session).get(merge.object)
        permission = context.principal.permission(merge.object)
        if not permission.can("read"):
            raise NotFound(f"no merge with id '{merge.id}'")
        ids = [merge.survivor_id] + ([merge.duplicate_id] if merge.state == "undone" else [])
        statement = sa.select(records_table.c.id).where(records_table.c.id.in_(ids))
        visible = RecordService.visibility(compiled, permission, context.principal)
        if visible is not None:
            statement = statement.where(visible)
            if session.execute(statement).first() is None:
                raise NotFound(f"no merge with id '{merge.id}'")
        return compiled

    def get_merge(self, session: Session, context: RequestContext, merge_id: str) -> dict[str, Any]:
        merge = self._load_merge(session, merge_id)
        self._check_visible(session, context, merge)
        return self._view(session, context, merge)

    def list_merges(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        *,
        record_id: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """The latest merges of an object (optionally those a record took part in) the
        caller may see, newest first, without their snapshots."""
        self._resolvable(session, object_name)
        statement = sa.select(IdentityMerge).where(IdentityMerge.object == object_name)
        if record_id:
            statement = statement.where(
                sa.or_(
                    IdentityMerge.survivor_id == record_id, IdentityMerge.duplicate_id == record_id
                )
            )
        rows = session.execute(
            statement.order_by(IdentityMerge.created_at.desc(), IdentityMerge.id.desc()).limit(
                limit * 4
            )
        ).scalars()
        result = []
        for merge in rows:
            try:
                self._check_visible(session, context, merge)
            except NotFound:
                continue
            result.append(self._summary(merge))
            if len(result) >= limit:
                break
        return result

    @staticmethod
    def _summary(merge: IdentityMerge) -> dict[str, Any]:
        return {
            "id": merge.id,
            "object": merge.object,
            "state": merge.state,
            "survivor": merge.survivor_id,
            "duplicate": merge.duplicate_id,
            "score": merge.score,
            "merged_at": _iso(merge.created_at),
            "merged_by": merge.actor_id,
            "undone_at": _iso(merge.undone_at),
            "undone_by": merge.undone_by,
        }

    def _view(
        self, session: Session, context: RequestContext, merge: IdentityMerge
    ) -> dict[str, Any]:
        """The merge as the caller may see it: field permissions and consent checks apply to
        the snapshot exactly as to the live records."""
        compiled = self.records.registry(session).get(merge.object)
        permission = context.principal.permission(merge.object)
        view = self._summary(merge)
        view["features"] = merge.features or []
        view["edges"] = [
            {"object": e["object"], "record": e["record_id"], "field": e["field"]}
            for e in merge.edges
        ]
        if merge.state != "merged":
            view["duplicate_record"] = None
            view["survivor_changes"] = []
            return view

        def presented(record_id: str, values: dict[str, Any]) -> dict[str, Any]:
            record = {"id": record_id, "object": merge.object}
            record.update(
                {
                    k: v
                    for k, v in values.items()
                    if k in compiled.fields and permission.can_read_field(k)
                }
            )
            for hook in self.records.read_hooks:
                hook(session, context, compiled, [record])
            return record

        snapshot = self._open(session, merge.object, merge.duplicate_id, merge.duplicate["data"])
        view["duplicate_record"] = presented(merge.duplicate_id, snapshot)
        before = presented(
            merge.survivor_id,
            self._open(session, merge.object, merge.survivor_id, merge.survivor_before),
        )
        after = presented(
            merge.survivor_id,
            self._open(session, merge.object, merge.survivor_id, merge.survivor_after),
        )
        changes = []
        for name in sorted(merge.survivor_after):
            if not permission.can_read_field(name):
                continue
            if name in before and name in after:
                changes.append({"field": name, "before": before[name], "after": after[name]})
            else:
                changes.append({"field": name, "withheld": True})
        view["survivor_changes"] = changes
        return view

    def unmerge(self, session: Session, context: RequestContext, merge_id: str) -> dict[str, Any]:
        """Undo a merge: the duplicate back (same id, same data), the survivor's merged fields
        and every re-pointed edge restored — or Conflict, changing nothing, when something
        the undo would overwrite was changed since."""
        merge = self._load_merge(session, merge_id, for_update=True)
        compiled = self._check_visible(session, context, merge)
        self._require(context, compiled, "create", "update")
        if merge.state != "merged":
            raise Conflict(f"merge {merge_id} was already undone", conflicts=[])
        object_name = merge.object
        conflicts: list[dict[str, Any]] = []
        survivor = session.execute(
            sa.select(records_table)
            .where(records_table.c.id == merge.survivor_id)
            .with_for_update()
        ).first()
        after = self._open(session, object_name, merge.survivor_id, merge.survivor_after)
        before = self._open(session, object_name, merge.survivor_id, merge.survivor_before)
        if survivor is None:
            later = session.execute(
                sa.select(IdentityMerge.id, IdentityMerge.survivor_id).where(
                    IdentityMerge.duplicate_id == merge.survivor_id, IdentityMerge.state == "merged"
                )
            ).first()
            conflicts.append(
                {
                    "record": merge.survivor_id,
                    "reason": "merged_away" if later else "deleted",
                    "message": (
                        f"the survivor was merged into {later.survivor_id} (merge {later.id}); "
                        "undo that merge first"
                        if later
                        else "the survivor was deleted since the merge"
                    ),
                }
            )
        else:
            for name in sorted(after):
                if survivor.data.get(name) != after[name]:
                    conflicts.append(
                        {
                            "record": merge.survivor_id,
                            "field": name,
                            "reason": "changed",
                            "message": f"the survivor's '{name}' was changed after the merge",
                        }
                    )
        if session.execute(
            sa.select(records_table.c.id).where(records_table.c.id == merge.duplicate_id)
        ).first():
            conflicts.append(
                {
                    "record": merge.duplicate_id,
                    "reason": "exists",
                    "message": "a record with the duplicate's id exists again",
                }
            )
        sources = dict(
            session.execute(
                sa.select(records_table.c.id, records_table.c.data).where(
                    records_table.c.id.in_(sorted({e["record_id"] for e in merge.edges}))
                )
            ).all()
        )
        restorable: list[dict[str, Any]] = []
        gone: list[dict[str, Any]] = []
        for edge in merge.edges:
            data = sources.get(edge["record_id"])
            if data is None:
                gone.append(
                    {"object": edge["object"], "record": edge["record_id"], "field": edge["field"]}
                )
                continue
            if data.get(edge["field"]) != edge["after"]:
                conflicts.append(
                    {
                        "record": edge["record_id"],
                        "object": edge["object"],
                        "field": edge["field"],
                        "reason": "changed",
                        "message": (
                            f"the {edge['object']}'s '{edge['field']}' was changed after the merge"
                        ),
                    }
                )
                continue
            restorable.append(edge)
        if conflicts:
            raise Conflict(
                f"merge {merge_id} cannot be undone safely: {len(conflicts)} thing(s) changed "
                "since; nothing was changed",
                conflicts=conflicts,
            )
        try:
            # The survivor first: unique values it took over become free for the duplicate.
            if before or after:
                self.records.update(
                    session,
                    context,
                    object_name,
                    merge.survivor_id,
                    {name: before.get(name) for name in after},
                    if_match=None,
                )
            snapshot = self._open(session, object_name, merge.duplicate_id, merge.duplicate["data"])
            self.records.create(
                session, context, object_name, {**snapshot, "id": merge.duplicate_id}
            )
        except ValidationFailed as error:
            raise Conflict(
                f"merge {merge_id} cannot be undone: the duplicate's data is no longer valid "
                f"({error.detail}); nothing was changed",
                conflicts=[
                    {"record": merge.duplicate_id, "reason": "invalid", **problem}
                    for problem in error.errors
                ],
            ) from None
        # Its origin as before (the change log holds the re-creation as a create).
        origin: dict[str, Any] = {
            "created_by": merge.duplicate.get("created_by"),
            "version": int(merge.duplicate.get("version") or 0) + 1,
        }
        if merge.duplicate.get("created_at"):
            origin["created_at"] = dt.datetime.fromisoformat(merge.duplicate["created_at"])
        session.execute(
            sa.update(records_table).where(records_table.c.id == merge.duplicate_id).values(origin)
        )
        by_object: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for edge in restorable:
            item = by_object[edge["object"]].setdefault(
                edge["record_id"], {"id": edge["record_id"]}
            )
            item[edge["field"]] = edge["before"]
        for source_object, items in sorted(by_object.items()):
            listed = list(items.values())
            for start in range(0, len(listed), 1000):
                self.records.bulk(
                    session,
                    context,
                    source_object,
                    "update",
                    listed[start : start + 1000],
                    present_results=False,
                )
        merge.state = "undone"
        merge.undone_at = utcnow()
        merge.undone_by = context.principal.user_id
        merge.undo_request_id = context.request_id
        # What undoing needed is spent: keep ids and the edge list, not the values.
        merge.duplicate = {}
        merge.survivor_before = {}
        merge.survivor_after = {}
        self._log(session, context, merge, "unmerge")
        self.ledger.append(
            session,
            "resolution.unmerge",
            {
                "merge": merge.id,
                "object": object_name,
                "survivor": merge.survivor_id,
                "duplicate": merge.duplicate_id,
                "edges": len(restorable),
                "actor": context.principal.user_id,
                "request_id": context.request_id,
            },
            [merge.id],
        )
        session.flush()
        view = self._view(session, context, merge)
        view["edges_gone"] = gone
        view["restored_record"], _ = self.records.get(
            session, context, object_name, merge.duplicate_id
        )
        return view

    # -- erasure ---------------------------------------------------------------------------------

    def forget(self, session: Session, record_id: str) -> dict[str, int]:
        return forget_record(session, record_id)


def forget_record(session: Session, record_id: str) -> dict[str, int]:
    """Erasure: everything identity resolution holds about a record — its blocking keys, the
    merges it took part in (their snapshots hold its values), its place in other merges'
    edge lists and the evidence payloads naming it. Returns counts per kind."""
    from kindred.ledger.models import LedgerEntry, LedgerPayload

    keys = session.execute(sa.delete(keys_table).where(keys_table.c.record_id == record_id))
    involved = list(
        session.execute(
            sa.select(IdentityMerge.id).where(
                sa.or_(
                    IdentityMerge.survivor_id == record_id, IdentityMerge.duplicate_id == record_id
                )
            )
        ).scalars()
    )
    if involved:
        session.execute(sa.delete(IdentityMerge).where(IdentityMerge.id.in_(involved)))
    edges = 0
    mention = f"%{record_id}%"
    for merge in session.execute(
        sa.select(IdentityMerge).where(sa.cast(IdentityMerge.edges, sa.Text).like(mention))
    ).scalars():
        kept = [e for e in merge.edges if e["record_id"] != record_id]
        edges += len(merge.edges) - len(kept)
        merge.edges = kept
    evidence = list(
        session.execute(
            sa.select(LedgerPayload.index)
            .join(LedgerEntry, LedgerEntry.index == LedgerPayload.index)
            .where(
                LedgerEntry.kind.in_(("resolution.merge", "resolution.unmerge")),
                sa.cast(LedgerPayload.payload, sa.Text).like(mention),
            )
        ).scalars()
    )
    if evidence:
        session.execute(sa.delete(LedgerPayload).where(LedgerPayload.index.in_(evidence)))
    session.flush()
    return {
        "identity_keys": int(getattr(keys, "rowcount", 0) or 0),
        "identity_merges": len(involved),
        "identity_merge_edges": edges,
        "identity_evidence": len(evidence),
    }
