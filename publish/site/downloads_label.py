"""The downloads and the database the site serves belong to the same build, or the site says so (issue 17).

``councilspend publish`` swaps the database and the ``downloads/`` folder one after the other; a kill
between the two swaps once left ``/downloads`` a build away from the pages (362,504 vs 365,004
payments). The Data Package is labelled with the hash of the database it was written from
(``publish.build.export.DATABASE_LABEL``); here that label is compared with the hash of the database
being served (its inspect data). When they disagree, the downloads page says so instead of listing the
files, and the files themselves answer 503 with the same words: another build's numbers are never served
silently beside the site's.
"""

from __future__ import annotations

import os
from pathlib import Path

from publish.build.export import downloads_label

#: (path, inode, mtime_ns, size) of the datapackage.json last read → its label; a stat per request.
_read: dict[str, tuple[tuple[int, int, int], str | None]] = {}


def _label(folder: Path) -> str | None:
    package = folder / "datapackage.json"
    try:
        st = os.stat(package)
    except OSError:
        return None
    key = (st.st_ino, st.st_mtime_ns, st.st_size)
    cached = _read.get(str(package))
    if cached is None or cached[0] != key:
        cached = _read[str(package)] = (key, downloads_label(folder))
    return cached[1]


def downloads_disagree(folder: Path | None, served: str | None) -> str | None:
    """What to tell a visitor when the downloads in ``folder`` were written from another build than the
    database served (whose hash is ``served``); None when they agree or there are no downloads at all."""
    if folder is None or not folder.exists():
        return None
    label = _label(folder)
    if label is not None and label == served:
        return None
    if label is None:
        what = "carry no label saying which build of the database they were written from"
    else:
        what = (
            f"were written from another build of the database (build {label[:12]}) than the one "
            f"this site shows (build {(served or 'unknown')[:12]})"
        )
    return (
        f"The downloads on this server {what}, so their numbers may not match these pages. This happens "
        "when a publish stops between writing the database and the downloads; the next "
        "`councilspend publish` writes both again. Until then the files are not served."
    )
