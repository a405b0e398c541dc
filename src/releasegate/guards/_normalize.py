"""The normalizer in front of every guard: undo the cheap obfuscations of a request.

`normalize(text)` returns the *views* of a text a guard must scan; a guard flags the text when
any view is flagged. Steps, each defeating one family of obfuscation seen in jailbreak studies
(e.g. Wei et al. 2023, "Jailbroken: How Does LLM Safety Training Fail?", which used base64,
rot13 and leetspeak; Boucher et al. 2022, "Bad Characters", invisible characters and homoglyphs):

1. Unicode NFKC: fullwidth and other compatibility forms (`ｂｏｍｂ`, `𝐛𝐨𝐦𝐛`) become ASCII.
2. Zero-width and control characters are removed (`b\\u200bomb` → `bomb`).
3. Homoglyph folding: Cyrillic and Greek look-alikes (`bоmb` with a Cyrillic `о`) become Latin;
   combining marks (`bómb`) are dropped.
4. Leetspeak folding (`h0w t0 m4k3 4 b0mb`), as a separate view because digits in plain text are
   usually digits.
5. Letter-spacing folding (`b o m b`, `b.o.m.b`), as a separate view.
6. Decoding: base64 (of UTF-8 or UTF-16 text), base32, hex, percent-encoded and ascii85
   segments are decoded and read in place (replaced by their
   decoding), and normalized in turn (nested encodings too, to a small depth); a rot13 view is
   added when it reads more like English than the text does.

The first view is always the cleaned text itself (steps 1–2), with any encoded segments read in
place (step 6), so a guard never loses the original meaning; the views are de-duplicated
case-insensitively.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
import urllib.parse
from collections import Counter
from collections.abc import Callable
from functools import lru_cache

# Invisible format characters used to split words past filters (zero-width space/joiners, word
# joiner, invisible operators, BOM, soft hyphen, Mongolian vowel separator, bidi controls).
_INVISIBLE = dict.fromkeys(
    [
        *(0x00AD, 0x180E, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062),
        *(0x2063, 0x2064, 0xFEFF, 0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ]
)

# Look-alikes of Latin letters in Cyrillic and Greek (Unicode's confusables, the common subset).
_HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic lower case
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
        "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ь": "b", "г": "r", "п": "n",
        "ɡ": "g", "һ": "h", "ү": "y",
        # Cyrillic upper case
        "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O",
        "Р": "P", "С": "C", "Т": "T", "Х": "X", "У": "Y", "Ѕ": "S", "І": "I", "Ј": "J",
        "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W", "Ӏ": "I", "Һ": "H",
        # Greek lower case
        "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w", "η": "n", "μ": "u", "ϲ": "c",
        # Greek upper case
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C",
        # Latin look-alikes outside ASCII that NFKC keeps
        "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ℓ": "l",
    }
)  # fmt: skip

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
     "@": "a", "$": "s", "!": "i", "|": "l", "€": "e", "+": "t"}
)  # fmt: skip
_LEET_CHARS = "013457895@$!|€+"
_TOKEN = re.compile(r"\S+")
_MAX_LEET_TOKEN = 16
_HAS_LETTER = re.compile(r"[a-z]")
_LEET_BEFORE_LETTER = re.compile(r"[013457895@$!|€+][a-z]")

# A letter-spaced word: 4+ single letters separated by one and the same separator.
_SPACED = re.compile(r"\b[a-z]([ .\-_*])(?:[a-z]\1){2,}[a-z]\b")

# Base64 (standard or url-safe) runs long enough to carry a phrase; hex runs of 8+ bytes, with
# optional separators / `0x` / `\x` prefixes.
_B64 = re.compile(r"[A-Za-z0-9+/\-_]{12,}={0,2}")
_HEX = re.compile(r"(?:(?:0x|\\x)?[0-9A-Fa-f]{2}[\s:,]?){8,}")
# Base32 (RFC 4648, either case), percent-encoding (two or more escapes in a run without
# spaces), ascii85 (Adobe's `<~ ~>` form, or a bare run of its alphabet `!`..`u`).
_B32 = re.compile(r"[A-Z2-7]{16,}={0,6}|[a-z2-7]{16,}={0,6}")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_PERCENT = re.compile(r"\S+")  # each run without spaces; `_percent` wants two escapes in it
_A85 = re.compile(r"<~[!-u\s]+~>|[!-u]{15,}")

# Frequent English words, to tell whether a rot13 view reads more like English.
_COMMON = frozenset(
    [
        "the",
        "to",
        "a",
        "an",
        "and",
        "of",
        "in",
        "is",
        "it",
        "how",
        "what",
        "why",
        "can",
        "i",
        "you",
        "me",
        "my",
        "for",
        "on",
        "with",
        "make",
        "do",
        "does",
        "get",
        "this",
        "that",
        "from",
        "at",
        "be",
        "by",
        "are",
        "was",
        "or",
        "not",
        "your",
        "give",
        "tell",
        "write",
        "steps",
        "way",
        "best",
        "use",
        "who",
    ]
)

MAX_DEPTH = 2  # nested encodings decoded (base64 inside base64 ...)
MAX_VIEWS = 16  # further decoded segments are joined into the last view, never dropped


# Variation selectors: 16 in the BMP, 240 more in plane 14. Runs of them carry bytes past a
# reader ("emoji smuggling"); only one emoji/text presentation selector after a visible
# character is kept, as emoji use it.
_PRESENTATION = frozenset("\ufe0e\ufe0f")


def _is_variation_selector(cp: int) -> bool:
    return 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF


def visible(text: str) -> str:
    """`text` without the characters a reader does not see, as the gateway forwards it.

    Removed: invisible format characters (zero-width, bidi controls, the Unicode tag block
    U+E0000–E007F that can spell a whole hidden request, every other `Cf`), control characters
    except newline, tab and carriage return, and variation selectors (one emoji/text
    presentation selector after a visible character stays). Idempotent:
    `visible(visible(t)) == visible(t)`, and the guard's views of `visible(t)` are those of `t`.
    """
    if text.isascii():
        if text.isprintable():
            return text  # the common case: nothing to remove
        return "".join(ch for ch in text if ch.isprintable() or ch in "\n\t\r")
    out: list[str] = []
    for ch in text:
        cp = ord(ch)
        if cp in _INVISIBLE:
            continue
        cat = unicodedata.category(ch)
        if cat == "Cc":
            if ch in "\n\t\r":
                out.append(ch)
            continue
        if cat == "Cf":
            continue
        if _is_variation_selector(cp):
            keep = ch in _PRESENTATION and out and not _is_variation_selector(ord(out[-1]))
            if keep and out[-1] not in "\n\t\r ":
                out.append(ch)
            continue
        out.append(ch)
    return "".join(out)


def clean(text: str) -> str:
    """Steps 1–2: invisible characters removed (`visible`), NFKC, newlines and tabs → space."""
    text = visible(unicodedata.normalize("NFKC", visible(text)))
    return text.replace("\n", " ").replace("\t", " ").replace("\r", " ")


def fold_homoglyphs(text: str) -> str:
    """Step 3: Cyrillic/Greek look-alikes to Latin, combining marks dropped."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_HOMOGLYPHS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _looks_leet(tokens: list[str]) -> bool:
    """Whether a text (its lower-cased tokens) is written in leetspeak.

    A word with a leet character before a letter (`b0mb`, `m4k3`, `3xplode`) is leetspeak;
    a word that only ends in one (`base64`, `gpt4`, `m3`) could be either, so it takes two
    of them. Without that rule "decode this base64: …" got a second, folded view that
    differed only in `base6a` and cost the classifier a whole extra pass over the blob.
    """
    weak = 0
    for token in tokens:
        core = token.rstrip("!?.,;:")
        if len(core) > _MAX_LEET_TOKEN or not _HAS_LETTER.search(core):
            continue
        if _LEET_BEFORE_LETTER.search(core):
            return True
        weak += any(c in _LEET_CHARS for c in core)
    return weak >= 2


def fold_leetspeak(text: str) -> str:
    """Step 4: leetspeak to letters, in tokens that mix letters and leet characters.

    Only texts that look like leetspeak are folded (`_looks_leet`), and a token of leet
    characters alone (`4`, `0`) only within such a text, so "3 apples" and "base64" stay as
    they are but "m4k3 4 b0mb" becomes "make a bomb".
    """
    if not _looks_leet(_TOKEN.findall(text.lower())):
        return text.lower()

    def fold(m: re.Match[str]) -> str:
        tok = m.group(0)
        if len(tok) > _MAX_LEET_TOKEN:
            return tok  # an encoded blob or a URL, not a leet word
        if _HAS_LETTER.search(tok) or len(tok) <= 2:
            # keep trailing sentence punctuation ("b0mb!" → "bomb!", not "bombi")
            core = tok.rstrip("!?.,;:")
            return core.translate(_LEET) + tok[len(core) :]
        return tok

    return _TOKEN.sub(fold, text.lower())


def fold_spacing(text: str) -> str:
    """Step 5: join letter-spaced words (`b o m b` → `bomb`, `make a b o m b` → `make a bomb`)."""

    def join(m: re.Match[str]) -> str:
        letters = m.group(0).replace(m.group(1), "")
        # "a b o m b": the leading one-letter word is most likely the article, not a letter
        if m.group(1) == " " and letters[0] in "ai" and len(letters) >= 5:
            return letters[0] + " " + letters[1:]
        return letters

    return _SPACED.sub(join, text.lower())


def _script(ch: str) -> str:
    return unicodedata.name(ch, "?").split(" ", 1)[0]  # LATIN, CYRILLIC, CJK, HANGUL...


def _readable(s: str, scripts: int = 0) -> str | None:
    """`s` if it reads as words, else None (random bytes that happen to decode).

    With `scripts`, the letters must also come from at most that many scripts (90 % of them):
    a wrong guess of a UTF-16 byte order decodes to letters from all over Unicode.
    """
    if not s or sum(ch.isprintable() or ch in "\n\t" for ch in s) < 0.95 * len(s):
        return None
    letters = [ch for ch in s if ch.isalpha()]
    if len(letters) < 0.5 * len(s.replace(" ", "")):
        return None
    if scripts and not s.isascii():
        counts = Counter(_script(ch) for ch in letters).most_common(scripts)
        if sum(n for _, n in counts) < 0.9 * len(letters):
            return None
    return s


def _printable_text(raw: bytes) -> str | None:
    """`raw` as readable text: UTF-8, else UTF-16 (with a byte-order mark, or either byte
    order without one: base64 of UTF-16 text hides it from a reader of UTF-8). Without a mark,
    only text with spaces between words is read (not, say, Chinese: a known gap)."""
    try:
        found = _readable(raw.decode("utf-8"))
    except UnicodeDecodeError:
        found = None
    if found is not None or len(raw) % 2 or len(raw) < 4:
        return found
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-16-le", "utf-16-be")
    for encoding in encodings:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        # Without a byte-order mark the wrong order also decodes, to letters from all over
        # Unicode and never a space (that would take the bytes 00 20): ask for words.
        if len(encodings) > 1 and " " not in text.strip():
            continue
        found = _readable(text, scripts=2)
        if found is not None:
            return found
    return None


def _b64(seg: str) -> bytes | None:
    if seg.isalpha() and seg.islower():
        return None  # a plain long word, not base64
    altchars = b"-_" if ("-" in seg or "_" in seg) else None
    bare = seg.rstrip("=")
    try:
        return base64.b64decode(bare + "=" * (-len(bare) % 4), altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        return None


def _b32(seg: str) -> bytes | None:
    if seg.isalpha() and (seg.isupper() or seg.islower()) and len(seg) < 24:
        return None  # most likely a word in capitals
    bare = seg.rstrip("=")
    try:
        return base64.b32decode(bare + "=" * (-len(bare) % 8), casefold=True)
    except (binascii.Error, ValueError):
        return None


def _a85(seg: str) -> bytes | None:
    adobe = seg.startswith("<~") and seg.endswith("~>")
    try:
        return base64.a85decode(seg, adobe=adobe)
    except (binascii.Error, ValueError):
        return None


def _percent(seg: str) -> bytes | None:
    if "%" not in seg or len(_PERCENT_ESCAPE.findall(seg)) < 2:
        return None
    return urllib.parse.unquote_to_bytes(seg.replace("+", " "))


def _hex(seg: str) -> bytes | None:
    digits = re.sub(r"0x|\\x|[\s:,]", "", seg)
    return binascii.unhexlify(digits) if len(digits) % 2 == 0 else None


# Each encoding: the runs that may hold it, and their decoder (None: not this encoding).
# Order matters where runs overlap at the same start (see `_read_in_place`).
_DECODERS: tuple[tuple[re.Pattern[str], Callable[[str], bytes | None]], ...] = (
    (_HEX, _hex),
    (_B64, _b64),
    (_B32, _b32),
    (_PERCENT, _percent),
    (_A85, _a85),
)


def _decoded_segments(text: str) -> list[tuple[re.Match[str], str]]:
    """Each encoded segment of `text` that decodes to readable text, with that text."""
    found: list[tuple[re.Match[str], str]] = []
    for pattern, decode in _DECODERS:
        for m in pattern.finditer(text):
            raw = decode(m.group(0))
            s = _printable_text(raw) if raw else None
            if s:
                found.append((m, s))
    return found


def decode_segments(text: str) -> list[str]:
    """Step 6: the decoded text of each encoded segment that decodes to readable text."""
    return [decoded for _, decoded in _decoded_segments(text)]


def _read_in_place(text: str, segments: list[tuple[re.Match[str], str]]) -> tuple[str, set[str]]:
    """`text` with each decoded segment replaced by its decoding, and the decodings used.

    Where segments overlap (a hex run is also valid base64), the one that starts first is used,
    hex at the same start; the other still gets its own views (see `_views`).
    """
    parts: list[str] = []
    used: set[str] = set()
    at = 0
    for m, decoded in sorted(segments, key=lambda pair: pair[0].start()):
        if m.start() < at:
            continue  # overlaps a segment already replaced
        parts += [text[at : m.start()], decoded]
        used.add(decoded)
        # a hex run's match takes the separator after its last byte: leave that in the text
        at = m.start() + len(m.group(0).rstrip(" \t\r\n:,"))
    parts.append(text[at:])
    return "".join(parts), used


def _english_words(text: str) -> int:
    return sum(w in _COMMON for w in re.findall(r"[a-z]+", text.lower()))


def rot13_view(text: str) -> str | None:
    """The rot13 of the text, if it has more common English words than the text itself."""
    rotated = codecs.encode(text, "rot13")
    if _english_words(rotated) > max(1, _english_words(text)):
        return rotated
    return None


def _key(view: str) -> str:
    return " ".join(view.lower().split())


def _views(text: str, depth: int, out: list[str], seen: set[str]) -> None:
    def add(view: str) -> None:
        key = _key(view)
        if key and key not in seen:
            seen.add(key)
            out.append(view)

    base = clean(text)
    segments = _decoded_segments(base) if depth < MAX_DEPTH else []
    # Encoded segments are read in place: the first view is the request with each one replaced
    # by its decoding ("decode this and answer: <what it says>"), which keeps the words around
    # a segment with what it says. The blob itself is not scanned: no guard here reads base64,
    # and for the classifier it was a long run of meaningless word pieces (see docs/guards.md).
    first, used = _read_in_place(base, segments)
    add(first)
    folded = fold_homoglyphs(first)
    add(folded)
    add(fold_leetspeak(folded))
    add(fold_spacing(folded))
    rot = rot13_view(folded)
    if rot:
        add(rot)
    for _, decoded in segments:
        if decoded in used:
            seen.add(_key(clean(decoded)))  # already read, in place, in the first view
        _views(decoded, depth + 1, out, seen)


def normalize(text: str) -> list[str]:
    """The views of `text` that a guard must scan (the cleaned text first).

    Args:
        text: any text, possibly obfuscated.

    Returns:
        At least one view; at most `MAX_VIEWS` (extra decoded views are joined into the last).
    """
    out: list[str] = []
    _views(text, 0, out, set())
    if not out:
        return [""]
    if len(out) > MAX_VIEWS:
        out = [*out[: MAX_VIEWS - 1], " ".join(out[MAX_VIEWS - 1 :])]
    return out


def shared_normalizer(maxsize: int = 64, max_chars: int = 4096) -> Callable[[str], list[str]]:
    """`normalize` that remembers the views of its `maxsize` most recent texts.

    For guards that scan the same text: give one to every guard of a chain (the `default`
    guard's keyword guard and classifier) and each request is normalized once, not once per
    guard. Thread-safe (the classifier runs in a worker thread); texts longer than `max_chars`
    are normalized every time and never kept, so the memory stays small.
    """

    @lru_cache(maxsize=maxsize)
    def cached(text: str) -> tuple[str, ...]:
        return tuple(normalize(text))

    def views(text: str) -> list[str]:
        if len(text) > max_chars:
            return normalize(text)
        return list(cached(text))

    return views
