"""A photo's own words: its folder and file names, and what people and cameras wrote into it.

"2019 Paris trip/IMG_0042.jpg" is found by "paris"; a photo whose description
says "Grandma's ninetieth birthday" by "ninetieth birthday". Users of every
peer ask for this (Immich #7821 and #30740, rclip #139): the words are often
the best description a photo has, and CLIP cannot see them.

Read, per photo, from the file's header only (no pixels):
- the folders below the watched folder, the watched folder's own name, and
  the file name without its extension;
- EXIF ImageDescription, the Windows XPTitle / XPComment / XPKeywords /
  XPSubject tags, and UserComment;
- XMP dc:title, dc:description, dc:subject, Lightroom's hierarchicalSubject,
  in the file and in a sidecar (`IMG_1.jpg.xmp` or `IMG_1.xmp`);
- IPTC object name, headline, caption and keywords.

The words go to an FTS5 table of their own (accents folded, as for the text
read in photos), and the search fuses them with meaning like any word source
(core/search/fusion.py). The pass reads the path too (`by_path`), so a renamed
folder or a moved photo is read again; a changed sidecar alone is not noticed
until the photo itself changes or the pass's version is bumped.
"""

from __future__ import annotations

import os
import re
import sqlite3
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import PurePath

from glimpse.core.errors import ImageDecodeError
from glimpse.core.media import imaging, video
from glimpse.core.signals.base import CatalogPass, Engines, SignalStage, WordSource
from glimpse.core.storage.catalog import Catalog, PhotoRow

OWN_WORDS = "own_words"
VERSION = 1
MAX_XMP_BYTES = 1 << 20  # a sidecar larger than this is not a sidecar
MAX_WORDS_CHARS = 4000  # enough for any caption and keyword list; bounds a hostile file

# EXIF tags with words: ImageDescription, and the Windows Explorer XP* tags (UTF-16LE).
_DESCRIPTION = 0x010E
_XP_TAGS = (0x9C9B, 0x9C9C, 0x9C9E, 0x9C9F)  # XPTitle, XPComment, XPKeywords, XPSubject
_EXIF_IFD, _USER_COMMENT = 0x8769, 0x9286
# IPTC (record 2): object name, headline, caption/abstract, keywords.
_IPTC = ((2, 5), (2, 105), (2, 120), (2, 25))
_XMP_FIELDS = ("title", "description", "subject", "hierarchicalSubject")
_CAMERA_DEFAULTS = re.compile(  # what cameras write when nobody wrote anything
    r"^(?:|OLYMPUS DIGITAL CAMERA|SONY DSC|DIGITAL CAMERA|KODAK Digital Still Camera|"
    r"default|image|untitled|ASCII|UNICODE)$", re.IGNORECASE)


@dataclass(frozen=True)
class OwnWords:
    text: str  # "2019 Paris trip / IMG_0042 · ninetieth birthday · Anna"


def path_words(path: str, root: str | None) -> str:
    """The names a person gave: folders below (and including) the watched folder, and
    the file's name without its extension ("2019 Paris trip / IMG_0042")."""
    if root and (path == root or path.startswith(root.rstrip(os.sep) + os.sep)):
        below = PurePath(path).relative_to(PurePath(root).parent)
    else:
        below = PurePath(path).parent.name / PurePath(PurePath(path).name)
    parts = list(below.parts)
    parts[-1] = os.path.splitext(parts[-1])[0]
    return " / ".join(p for p in parts if p)


def embedded_words(path: str) -> list[str]:
    """Descriptions, titles and keywords written into the file or its XMP sidecar."""
    found: list[str] = []
    if not video.is_video(path):
        try:
            with imaging.opened(path) as im:
                found += _exif_words(im)
                found += _iptc_words(im)
                xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
                if xmp:
                    found += xmp_words(xmp)
        except ImageDecodeError:
            pass  # an unreadable header has no words; the encode stage reports the file
    for sidecar in _sidecars(path):
        try:
            if os.path.getsize(sidecar) <= MAX_XMP_BYTES:
                with open(sidecar, "rb") as fh:
                    found += xmp_words(fh.read())
                break
        except OSError:
            continue
    out: list[str] = []
    for words in found:
        clean = " ".join(words.replace("\x00", " ").split())
        if clean and not _CAMERA_DEFAULTS.match(clean) and clean not in out:
            out.append(clean)
    return out


def _sidecars(path: str) -> list[str]:
    stem = os.path.splitext(path)[0]
    return [path + ".xmp", path + ".XMP", stem + ".xmp", stem + ".XMP"]


def _exif_words(im: object) -> list[str]:
    try:
        exif = im.getexif()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a broken EXIF block has no words
        return []
    out = []
    description = exif.get(_DESCRIPTION)
    if isinstance(description, str):
        out.append(description)
    for tag in _XP_TAGS:
        raw = exif.get(tag)
        if isinstance(raw, (bytes, tuple)):
            data = bytes(raw)
            out.append(data.decode("utf-16-le", "ignore"))
    try:
        comment = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT)
    except Exception:  # noqa: BLE001
        comment = None
    if isinstance(comment, bytes):
        # 8 bytes of character code, then the text (EXIF 2.3, 4.6.5)
        code, body = comment[:8], comment[8:]
        text = body.decode("utf-16", "ignore") if code.startswith(b"UNICODE") else \
            body.decode("latin-1", "ignore")
        out.append(text)
    elif isinstance(comment, str):
        out.append(comment)
    return out


def _iptc_words(im: object) -> list[str]:
    from PIL import IptcImagePlugin

    try:
        info = IptcImagePlugin.getiptcinfo(im) or {}  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - a broken IPTC block has no words
        return []
    out = []
    for key in _IPTC:
        value = info.get(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bytes):
                out.append(item.decode("utf-8", "replace"))
    return out


def xmp_words(data: bytes | str) -> list[str]:
    """The words of XMP's dc:title, dc:description, dc:subject and Lightroom's
    hierarchical keywords ("People|Anna" gives "People Anna")."""
    if isinstance(data, bytes):
        data = _xmp_text(data)
    start = data.find("<x:xmpmeta")
    if start < 0:
        start = data.find("<rdf:RDF")
    if start < 0:
        return []
    end = max(data.rfind("</x:xmpmeta>"), data.rfind("</rdf:RDF>"))
    tail = "</x:xmpmeta>" if data.rfind("</x:xmpmeta>") >= data.rfind("</rdf:RDF>") else "</rdf:RDF>"
    try:
        root = ET.fromstring(data[start:end + len(tail)] if end > start else data[start:])
    except ET.ParseError:
        return []
    out = []
    for element in root.iter():
        local = element.tag.rpartition("}")[2]
        if local in _XMP_FIELDS:
            items = [li.text for li in element.iter() if li.tag.endswith("}li") and li.text]
            texts = items or ([element.text] if element.text and element.text.strip() else [])
            out += [t.replace("|", " ") for t in texts]
        elif local == "Description":  # attributes: dc:title="..." (rare, but written)
            for name, value in element.attrib.items():
                if name.rpartition("}")[2] in ("title", "description"):
                    out.append(value)
    return out


def _xmp_text(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", "ignore")
    if len(data) > 1 and data[1:2] == b"\x00":  # UTF-16LE without a mark
        return data.decode("utf-16-le", "ignore")
    return data.decode("utf-8", "ignore")


class OwnWordsPass(CatalogPass):
    name = OWN_WORDS
    version = VERSION
    by_path = True

    def __init__(self, roots: dict[int, str]) -> None:
        """`roots`: {folder id: watched folder path}, read before the run."""
        self.roots = roots

    def process(self, row: PhotoRow) -> OwnWords:
        parts = [path_words(row.path, self.roots.get(row.folder_id or -1))]
        parts += embedded_words(row.path)
        return OwnWords(" · ".join(p for p in parts if p)[:MAX_WORDS_CHARS])

    def store(self, catalog: Catalog, db: sqlite3.Connection, row: PhotoRow,
              result: OwnWords) -> None:
        db.execute("DELETE FROM own_words WHERE rowid = ?", (row.id,))
        if result.text:
            db.execute("INSERT INTO own_words(rowid, words) VALUES (?, ?)", (row.id, result.text))


def _make_pass(catalog: Catalog, engines: Engines) -> OwnWordsPass:
    return OwnWordsPass({int(i): str(path) for i, path in catalog.read("SELECT id, path FROM folders")})


STAGE = SignalStage(
    name=OWN_WORDS,
    verb="Reading the names and descriptions of",
    did="Read the names and descriptions of",
    noun="own words (names, descriptions)",
    reads="file",
    version=VERSION,
    make_pass=_make_pass,
    by_path=True,
    migrations=(
        "CREATE VIRTUAL TABLE own_words USING fts5(words, tokenize = 'unicode61 remove_diacritics 2')",
    ),
    words=WordSource(OWN_WORDS, "its folder, name or description"),
)
