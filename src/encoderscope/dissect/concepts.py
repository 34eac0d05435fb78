"""Concept sets: the text labels that dissection can give a unit.

Built-in names (generated offline at run time from installed open sources, deterministic):

* ``imagenet``: the 1000 ImageNet-1k class names (torchvision's metadata);
* ``fashion-mnist``: the 10 Fashion-MNIST class names;
* ``words-1k``, ``words-3k``, ``words-10k``: common English words from ``wordfreq``, most frequent first, filtered
  towards nouns by a simple heuristic: alphabetic, at least 3 letters, not an English stop word (scikit-learn's
  list), not in :data:`NON_NOUNS` (frequent verbs, adjectives and adverbs), and, for words of 5+ letters, not
  ending in ``-ly``, ``-ed`` or ``-ing``. Some verbs and adjectives remain (no part-of-speech tagger is installed);
  CLIP-Dissect's own 3k/10k/20k sets are plain common words.

Anything else is read as a text file with one concept per line (blank lines and ``#`` comments skipped, duplicates
dropped in order).

Example:
    >>> load_concepts("fashion-mnist")[:3]
    ['T-shirt/top', 'Trouser', 'Pullover']
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from encoderscope.errors import ParameterError

WORD_SETS = {"words-1k": 1000, "words-3k": 3000, "words-10k": 10000}
BUILTIN = ("imagenet", "fashion-mnist", *WORD_SETS)

_NON_NOUNS_TEXT = """
    just like new good know make think want said way did got say great best look use come better help high
    little old big let doing really thing things going lot does sure need yes actually long away bad real let
    right different free able hard open small full easy sorry true took gave came told tell went saw give take
    getting makes made says seen knew put called including based set came wanted thought feel felt trying
    try tried mean means happy nice special hot cool important large far early late young certain clear likely
    whole similar available possible simply single ready recent major main social public human local personal
    international national political"""
#: Frequent non-nouns that pass the other rules of the heuristic.
NON_NOUNS = frozenset(_NON_NOUNS_TEXT.split())


@lru_cache(maxsize=4)
def common_words(count: int) -> tuple[str, ...]:
    """The ``count`` most frequent English words that pass the heuristic of the module docstring."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from encoderscope._optional import require

    top_n_list = require("wordfreq", "text").top_n_list

    words: list[str] = []
    for word in top_n_list("en", count * 4 + 2000):
        plain = len(word) >= 3 and word.isascii() and word.isalpha()
        suffix = len(word) >= 5 and word.endswith(("ly", "ed", "ing"))
        if plain and not suffix and word not in ENGLISH_STOP_WORDS and word not in NON_NOUNS:
            words.append(word)
        if len(words) == count:
            break
    return tuple(words)


def read_concept_file(path: str | Path) -> list[str]:
    """One concept per line (blank lines and ``#`` comments skipped, duplicates dropped)."""
    file = Path(path)
    if not file.is_file():
        raise ParameterError(f"concept set {path!s} is neither a built-in ({', '.join(BUILTIN)}) nor a file")
    lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
    concepts = list(dict.fromkeys(line for line in lines if line and not line.startswith("#")))
    if not concepts:
        raise ParameterError(f"concept file {file} holds no concept")
    return concepts


def load_concepts(name_or_path: str | Path) -> list[str]:
    """A built-in concept set by name, or a text file (see the module docstring)."""
    name = str(name_or_path)
    if name == "imagenet":
        from encoderscope.zoo.efficientnet_lite import imagenet_class_names

        return imagenet_class_names()
    if name == "fashion-mnist":
        from encoderscope.data.zoo_images import FASHION_MNIST_CLASSES

        return list(FASHION_MNIST_CLASSES)
    if name in WORD_SETS:
        return list(common_words(WORD_SETS[name]))
    return read_concept_file(name_or_path)
