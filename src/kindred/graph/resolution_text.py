"""Chinese organization names as English and pinyin words: what lets "Beijing Anhe Hospital",
"Beijing Anhe Yiyuan" and "北京安和医院" meet, for identity resolution (``resolution.py``)
and for search (``search_index.py``: an English query finds a Chinese name).

A run of Chinese characters is read left to right: the longest common organization word of
the glossary (医院 → hospital, 集团 → group …) is translated; the stretches between them are
cut into words by jieba and romanized tone-less with pypinyin (北京 → beijing). jieba cuts
a name it does not know into single characters (安和 → 安 / 和): consecutive single
characters are read as one word (anhe), which is how the name is written in pinyin.

Pure functions; jieba's and pypinyin's dictionaries load on first use, not on import.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

# Common words of organization names, Chinese → English, longest first when scanning. The
# English words are "generic": they say what kind of organization, not which one.
GLOSSARY: dict[str, str] = {
    "中西医结合医院": "integrated traditional chinese western medicine hospital",
    "妇幼保健院": "maternal child health hospital",
    "精神卫生中心": "mental health center",
    "卫生服务中心": "health service center",
    "疾病预防控制中心": "disease control prevention center",
    "中医医院": "traditional chinese medicine hospital",
    "中医院": "traditional chinese medicine hospital",
    "妇产科医院": "obstetrics gynecology hospital",
    "儿童医院": "children hospital",
    "口腔医院": "stomatological hospital",
    "肿瘤医院": "cancer hospital",
    "胸科医院": "chest hospital",
    "眼科医院": "eye hospital",
    "康复医院": "rehabilitation hospital",
    "骨科医院": "orthopaedic hospital",
    "中心医院": "central hospital",
    "心血管病": "cardiovascular",
    "心血管": "cardiovascular",
    "医科大学": "medical university",
    "中医药大学": "university traditional chinese medicine",
    "医学院": "medical college",
    "医学中心": "medical center",
    "医疗器械": "medical device",
    "研究中心": "research center",
    "实验室": "laboratory",
    "新能源": "new energy",
    "新区": "new area",
    "骨科": "orthopaedic",
    "人民": "people",
    "医院": "hospital",
    "中医": "traditional chinese medicine",
    "中心": "center",
    "大学": "university",
    "学院": "college",
    "学校": "school",
    "附属": "affiliated",
    "卫生": "health",
    "保健": "health care",
    "社区": "community",
    "诊所": "clinic",
    "门诊部": "outpatient",
    "门诊": "outpatient",
    "康复": "rehabilitation",
    "集团": "group",
    "控股": "holding",
    "科技": "technology",
    "技术": "technology",
    "医疗": "medical",
    "医药": "pharmaceutical",
    "药业": "pharmaceutical",
    "制药": "pharmaceutical",
    "生物": "biological",
    "电子": "electronics",
    "信息": "information",
    "网络": "network",
    "软件": "software",
    "贸易": "trading",
    "实业": "industrial",
    "工业": "industrial",
    "化工": "chemical",
    "食品": "food",
    "汽车": "automotive",
    "物流": "logistics",
    "能源": "energy",
    "光伏": "photovoltaic",
    "电力": "power",
    "银行": "bank",
    "保险": "insurance",
    "证券": "securities",
    "基金": "fund",
    "国际": "international",
    "中国": "china",
    "研究院": "research institute",
    "研究所": "research institute",
    "分院": "branch",
    "分公司": "branch",
    "总院": "main",
}
GLOSSARY_LONGEST = max(len(word) for word in GLOSSARY)
# English spellings of the same generic word, as the glossary writes it.
ENGLISH_SYNONYMS = {
    "centre": "center",
    "tech": "technology",
    "technologies": "technology",
    "pharma": "pharmaceutical",
    "pharmaceuticals": "pharmaceutical",
    "univ": "university",
    "intl": "international",
    "holdings": "holding",
    "labs": "laboratory",
    "orthopedic": "orthopaedic",
    "lab": "laboratory",
}
# Legal forms written in pinyin ("Youxian Gongsi"): noise, like "Co., Ltd.".
PINYIN_LEGAL_FORMS = frozenset(
    "youxian gongsi youxiangongsi gufen gufengongsi zeren youxianzeren zonggongsi".split()  # noqa: SIM905
)


class Word(NamedTuple):
    """One word of a Chinese run: its English or pinyin form, where it stands in the run, and
    whether it is a proper name (romanized, two characters or more: what tells one
    organization from another)."""

    text: str
    start: int
    end: int
    name: bool


@functools.cache
def _pinyin() -> Callable[[str], list[str]]:
    # Imported on first use: the phrase dictionaries take ~60 MB and ~0.3 s to load.
    from pypinyin import lazy_pinyin

    return lazy_pinyin


@functools.cache
def _tokenize() -> Callable[[str], list[tuple[str, int, int]]]:
    import rjieba

    return rjieba.tokenize


@functools.lru_cache(maxsize=65_536)
def romanize(text: str) -> str:
    """Tone-less pinyin, syllables joined, phrase readings (重庆 → chongqing)."""
    return "".join(_pinyin()(text)).lower()


def _pieces(text: str) -> list[tuple[int, int]]:
    """jieba's words of ``text`` as spans, consecutive single characters joined (安 / 和 →
    安和): a name jieba does not know is one word, as its pinyin is written."""
    spans: list[tuple[int, int]] = []
    single = False
    for _, start, end in _tokenize()(text):
        alone = end - start == 1
        if alone and single and spans:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
        single = alone
    return spans


@functools.lru_cache(maxsize=65_536)
def transliterate(run: str) -> tuple[Word, ...]:
    """A run of Chinese characters as English and pinyin words, in order (see the module
    docstring). Glossary words give one ``Word`` per English word, all spanning the Chinese
    word."""
    words: list[Word] = []
    unknown_from: int | None = None

    def flush(until: int) -> None:
        nonlocal unknown_from
        if unknown_from is not None:
            base = unknown_from
            for start, end in _pieces(run[base:until]):
                piece = run[base + start : base + end]
                words.append(Word(romanize(piece), base + start, base + end, len(piece) > 1))
        unknown_from = None

    position = 0
    while position < len(run):
        for size in range(min(GLOSSARY_LONGEST, len(run) - position), 1, -1):
            piece = run[position : position + size]
            if piece in GLOSSARY:
                flush(position)
                words += [
                    Word(english, position, position + size, False)
                    for english in GLOSSARY[piece].split()
                ]
                position += size
                break
        else:
            if unknown_from is None:
                unknown_from = position
            position += 1
    flush(len(run))
    return tuple(words)


@functools.cache
def pinyin_glossary() -> dict[str, str]:
    """The glossary's words as written in pinyin → their English (yiyuan → hospital), for
    names romanized word by word ("Beijing Anhe Yiyuan")."""
    return {romanize(chinese): english for chinese, english in GLOSSARY.items()}
