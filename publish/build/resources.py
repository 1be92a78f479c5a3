"""Where the installed package keeps the files the site needs (the metadata and the methodology).

``metadata.yml`` and ``docs/methodology.md`` live at the repository root, where people edit them; the
package holds symlinks to them (``publish/metadata.yml``, ``publish/site/methodology.md``) that setuptools
copies into the wheel as plain files. Looking them up through ``importlib.resources`` finds the same
bytes in a checkout, an editable install and a wheel installed anywhere (``pip``/``pipx``).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def metadata_path() -> Path:
    """The site's ``metadata.yml`` (titles, facets, canned queries)."""
    return Path(str(files("publish") / "metadata.yml"))


def methodology_path() -> Path:
    """``docs/methodology.md``, rendered at ``/methodology``."""
    return Path(str(files("publish.site") / "methodology.md"))
