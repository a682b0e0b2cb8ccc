"""Word and sentence segmentation shared by the quality filters.

The published Gopher / C4 / FineWeb thresholds were tuned on the output of a rule-based English tokenizer
(datatrove uses spaCy's blank English pipeline): text is split on whitespace, then punctuation prefixes and
suffixes are peeled off each piece, contractions are split ("don't" -> "do", "n't") and a few infixes
(hyphens between letters, "..." inside a word) split further, while URLs, numbers ("1,000", "3.5") and
abbreviations ("e.g.", "Mr.") stay whole. Ratios such as "words with a letter" depend on how punctuation
is tokenised, so we follow the same rules; otherwise the thresholds would mean something else.

Speed comes from caching: a whitespace-separated piece is tokenised once per process (web text reuses a
small vocabulary of pieces), and pieces made only of letters/digits skip the rules entirely.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

WordsFn = Callable[[str], list[str]]  # text -> words (a segmenter; see stages/filters/language.py)


def _wordlist(text: str) -> list[str]:
    return text.split()


# Characters peeled off the front / back of a piece one at a time.
_PUNCT = "…,:;!?¿؟¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪"
_QUOTES = "'\"”“`‘´’‚,„»«「」『』（）〔〕【】《》〈〉〈〉⟦⟧"
_CURRENCY_CHARS = "$£€¥฿₽﷼₴₠₡₢₣₤₥₦₧₨₩₪₫₭₮₯₰₱₲₳₵₶₷₸₹₺₻₼₾₿"
_CURRENCY_MULTI = ("US$", "C$", "A$")
_PREFIX_CHARS = frozenset("§%=—–" + _PUNCT + _QUOTES + _CURRENCY_CHARS)
_SUFFIX_CHARS = frozenset(_PUNCT + _QUOTES + "—–")
_QUOTE_OR_PUNCT = frozenset(_PUNCT + _QUOTES)
_UNITS = _wordlist(
    "km km² km³ m m² m³ dm dm² dm³ cm cm² cm³ mm mm² mm³ ha µm nm yd in ft kg g mg µg t lb oz m/s km/h kmh "
    "mph hPa Pa mbar mb MB kb KB gb GB tb TB T G M K %"
)
_AFTER_DIGIT = frozenset(_UNITS + list(_CURRENCY_MULTI) + list(_CURRENCY_CHARS) + ["+"])
_MAX_AFTER_DIGIT = max(map(len, _AFTER_DIGIT))
_HYPHEN_INFIX = re.compile(r"(?<=[^\W_])(?:---|--|——|[-–—~])(?=[^\W\d_])")
_ELLIPSIS_INFIX = re.compile(r"\.\.+|…")
_DIGIT_OP_INFIX = re.compile(r"(?<=[0-9])[+\-*^](?=[0-9-])")
_COMMA_INFIX = re.compile(r"(?<=[^\W\d_]),(?=[^\W\d_])")
_SYMBOL_INFIX = re.compile(r"(?<=[^\W_])[:<>=/](?=[^\W\d_])")
_Q = re.escape(_QUOTES)
_DOT_INFIX = re.compile(rf"(?<=[^\W\d_]|[{_Q}])\.(?=[^\W\d_]|[{_Q}])")
_URL = re.compile(
    r"^(?:[\w+\-.]{2,}://)?(?:\S+(?::\S*)?@)?"
    r"(?:(?:[A-Za-z0-9\u00a1-\uffff][A-Za-z0-9\u00a1-\uffff_-]{0,62})?[A-Za-z0-9\u00a1-\uffff]\.)+"
    r"[a-z\u00df-\u00ff]{2,63}(?::\d{2,5})?(?:[/?#]\S*)?$"
)

# Contractions split like the reference tokenizer: stem + clitic ("could" + "n't", "we" + "'ll"), also
# when written without the apostrophe ("youll", "id", "dont").
_NEG_STEMS = _wordlist(
    "ai are ca could did does do had has have is may might must need ought sha should was were wo would"
)
_PRONOUNS = _wordlist("i you he she it we they who what where when why how there that this these those")
_CLITICS = ("'ll", "'d", "'ve", "'re", "'d've", "'ll've")
_S_CLITIC_STEMS = _wordlist("he she it who what where when why how there that")
_NOT_CONTRACTIONS = ("its", "ill", "well", "were", "shed", "hell", "shell", "whore", "lets", "here")
_SPECIAL_WORDS = {"cannot": ("can", "not"), "gonna": ("gon", "na"), "gotta": ("got", "ta"),
                  "wanna": ("wan", "na"), "lemme": ("lem", "me"), "gimme": ("gim", "me"),
                  "ima": ("i", "m", "a"), "i'ma": ("i", "'m", "a"), "y'all": ("y'", "all")}
_ABBREVIATIONS = _wordlist(
    "a.m. p.m. e.g. i.e. vs. v.s. co. Co. Corp. Inc. Ltd. Bros. Mr. Mrs. Ms. Dr. Jr. Prof. Rev. St. Mt. Gen. "
    "Gov. Sen. Rep. Adm. Messrs. Ph.D. D.C. N.Y. Jan. Feb. Mar. Apr. Jun. Jul. Aug. Sep. Sept. Oct. Nov. "
    "Dec. E.g. E.G. I.e. I.E. Calif. Mass. Wash. Ala. Ariz. Ark. Colo. Conn. Del. Fla. Ga. Ill. Ind. Kan. "
    "Ky. La. Md. Mich. Minn. Miss. Mo. Mont. Neb. Nev. Okla. Ore. Pa. Tenn. Va. Wis. N.C. S.C. N.J. N.H. "
    "and/or w/o C++ '' 's 'S ’s ’S 'd 'll 've 're 'm n't"
)
_EMOTICONS = _wordlist(
    ":) :-) :)) :-)) :))) :-))) (: (-: ;) ;-) (; (-; :( :-( :(( :-(( ): )-: :D :-D :P :-P :p :-p :O :-O :o "
    ":-o :x :-x :X :-X :] :-] [: [-: :[ :-[ :> :-> :-< :* :-* :/ :-/ :| :-| :'( :') :'-) :'-( "
    "=) =( =] =[ =| =/ =3 (= )= 8) 8-) 8D xD XD xd ^_^ ^__^ -_- -__- o.O O.o o_O O_o ._. <3 </3 <33 :0 "
    ":-0 V.V v.v V_V v_v >.< >_< o.o O.O o_o O_O ;D ;-D :3 :-3 \\t \\n"
)
_SENTENCE_END = frozenset(
    "!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？｡。"  # 。: the CJK full stop
)


def _cased(word: str) -> set[str]:
    return {word, word.title()} | ({"I"} if word == "i" else set())


def _build_special_cases() -> dict[str, tuple[str, ...]]:
    special: dict[str, tuple[str, ...]] = {}
    for apostrophe in ("'", "’", ""):
        for stem in _NEG_STEMS:
            for cased in _cased(stem):
                special[f"{cased}n{apostrophe}t"] = (cased, f"n{apostrophe}t")
        for pronoun in _PRONOUNS:
            clitics = _CLITICS + (("'m",) if pronoun == "i" else ())
            clitics += ("'s",) if pronoun in _S_CLITIC_STEMS and not apostrophe else ()
            for cased in _cased(pronoun):
                for clitic in clitics:
                    parts = tuple(p for p in re.split(r"(?=')", clitic.replace("'", apostrophe or "'")) if p)
                    if not apostrophe:
                        parts = tuple(p.lstrip("'") for p in parts)
                    special[cased + "".join(parts)] = (cased, *parts)
    for modal in ("could", "would", "should", "might", "must"):
        for cased in _cased(modal):
            for apostrophe in ("'", "’"):
                special[f"{cased}{apostrophe}ve"] = (cased, f"{apostrophe}ve")
    for word, parts in _SPECIAL_WORDS.items():
        special[word] = parts
        special[word[0].upper() + word[1:]] = (parts[0][0].upper() + parts[0][1:], *parts[1:])
    for word in _ABBREVIATIONS + _EMOTICONS:
        special[word] = (word,)
    for letter in "abcdefghijklmnopqrstuvwxyzäöü":
        special[letter + "."] = (letter + ".",)
    for word in _NOT_CONTRACTIONS:
        special.pop(word, None)
        special.pop(word.title(), None)
    return special


_SPECIAL = _build_special_cases()
# Special cases that themselves contain affix characters can also be formed by adjacent tokens of one piece
# ("f(x):" -> "f(x", ")", ":" -> "f(x", "):"); the reference tokenizer re-merges those.
_AFFIXED_SPECIAL = {k for k in _SPECIAL if any(ch in _PREFIX_CHARS or ch in _SUFFIX_CHARS for ch in k)}
_MAX_MERGE = 4


def _is_icon(ch: str) -> bool:
    """Dingbats, emoji and other pictographs (Unicode category "So") are always tokens of their own."""
    return ch > "\u00a5" and unicodedata.category(ch) == "So"


def _prefix_len(piece: str) -> int:
    first = piece[0]
    if first == "." and piece.startswith(".."):
        return len(piece) - len(piece.lstrip("."))
    if piece.startswith(_CURRENCY_MULTI):
        return 3 if piece[0] == "U" else 2
    if first == "+":
        return 0 if len(piece) > 1 and piece[1].isdigit() else 1
    if first in _PREFIX_CHARS or _is_icon(first):
        return 1
    return 0


def _suffix_len(piece: str) -> int:
    """Length of the suffix that starts leftmost among all suffix rules matching up to the end."""
    n = len(piece)
    best = 0
    last = piece[-1]
    if last in _SUFFIX_CHARS or _is_icon(last):
        best = 1
    if last == "." and n >= 2 and piece[-2] == ".":
        best = max(best, n - len(piece.rstrip(".")))
    if piece.endswith("……"):
        best = max(best, 2)
    if n >= 3 and piece[-2] in "'’" and last in "sS":
        best = max(best, 2)
    for size in range(1, min(_MAX_AFTER_DIGIT, n - 1) + 1):  # units / currencies / "+" right after a digit
        if piece[-size - 1].isdigit() and piece[-size:] in _AFTER_DIGIT:
            best = max(best, size)
    if last == "." and n >= 2 and best == 0:
        prev = piece[-2]
        if (prev.isdigit() or prev.islower() or prev in "%²-+|" or prev in _QUOTE_OR_PUNCT
                or (n >= 3 and prev.isupper() and piece[-3].isupper())
                or (n >= 3 and prev in "FfCcKk" and piece[-3] == "°")):
            best = 1
    return best


def _split_affixes(piece: str) -> tuple[list[str], str, list[str]]:
    prefixes: list[str] = []
    suffixes: list[str] = []
    last_size = -1
    while piece and len(piece) != last_size and piece not in _SPECIAL:
        last_size = len(piece)
        pre = _prefix_len(piece)
        if pre and piece[pre:] in _SPECIAL:
            prefixes.append(piece[:pre])
            piece = piece[pre:]
            break
        suf = _suffix_len(piece[pre:]) if piece[pre:] else 0
        if suf and piece[:-suf] in _SPECIAL:
            suffixes.append(piece[-suf:])
            piece = piece[:-suf]
            break
        if pre and suf and pre + suf <= len(piece):
            prefixes.append(piece[:pre])
            suffixes.append(piece[-suf:])
            piece = piece[pre:-suf]
        elif pre:
            prefixes.append(piece[:pre])
            piece = piece[pre:]
        elif suf:
            suffixes.append(piece[-suf:])
            piece = piece[:-suf]
    return prefixes, piece, suffixes


def _infix_spans(core: str) -> list[tuple[int, int]]:
    spans = []
    for pattern in (_ELLIPSIS_INFIX, _DIGIT_OP_INFIX, _COMMA_INFIX, _HYPHEN_INFIX, _SYMBOL_INFIX):
        spans.extend(m.span() for m in pattern.finditer(core))
    for m in _DOT_INFIX.finditer(core):
        before, after = core[m.start() - 1], core[m.end()] if m.end() < len(core) else ""
        if (before.islower() or before in _QUOTES) and (after.isupper() or after in _QUOTES):
            spans.append(m.span())
    spans.extend((i, i + 1) for i, ch in enumerate(core) if _is_icon(ch))
    spans.sort()
    return spans


def _split_infixes(core: str) -> list[str]:
    if core in _SPECIAL:
        return list(_SPECIAL[core])
    if core.isalpha() or _URL.match(core):
        return [core]
    tokens: list[str] = []
    start = 0
    for begin, end in _infix_spans(core):
        if begin < start or begin == 0:
            continue
        tokens.append(core[start:begin])
        if end > begin:
            tokens.append(core[begin:end])
        start = end
    tokens.append(core[start:])
    return [t for t in tokens if t]


def tokenize_piece(piece: str) -> list[str]:
    """Tokens of one whitespace-free piece of text."""
    if piece in _SPECIAL:
        return list(_SPECIAL[piece])
    prefixes, core, suffixes = _split_affixes(piece)
    middle = _split_infixes(core) if core else []
    return _merge_special(prefixes + middle + suffixes[::-1])


def _merge_special(tokens: list[str]) -> list[str]:
    if len(tokens) < 2:
        return tokens
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for j in range(min(len(tokens), i + _MAX_MERGE), i + 1, -1):
            joined = "".join(tokens[i:j])
            if joined in _AFFIXED_SPECIAL:
                out.extend(_SPECIAL[joined])
                i = j
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


class WordSplitter:
    """Tokenises text into words; remembers every piece it has seen (bounded)."""

    def __init__(self, max_cache: int = 300_000) -> None:
        self._cache: dict[str, tuple[str, ...]] = {}
        self._max_cache = max_cache

    def words(self, text: str) -> list[str]:
        cache = self._cache
        special = _SPECIAL
        out: list[str] = []
        extend = out.extend
        append = out.append
        for piece in text.split():
            if (piece.isalpha() or piece.isdigit()) and piece not in special:
                append(piece)
                continue
            tokens = cache.get(piece)
            if tokens is None:
                tokens = tuple(tokenize_piece(piece))
                if len(cache) >= self._max_cache:
                    cache.clear()
                cache[piece] = tokens
            extend(tokens)
        return out


def is_punct_token(token: str) -> bool:
    """True for tokens made only of punctuation characters (Unicode categories P*)."""
    return not token.isalnum() and all(unicodedata.category(ch)[0] == "P" for ch in token)


def count_sentences(words: list[str], ends: frozenset[str] = _SENTENCE_END) -> int:
    """Sentences in a tokenised text: a new one starts at the first word after sentence-final punctuation."""
    if not words:
        return 0
    sentences = 1
    seen_end = False
    for word in words:
        if word in ends:
            seen_end = True
        elif seen_end and not is_punct_token(word):
            sentences += 1
            seen_end = False
    return sentences


TERMINAL_PUNCTUATION = tuple(_SENTENCE_END)
