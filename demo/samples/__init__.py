"""Real council files bundled as samples for ``councilspend add`` (see README.md here).

A package so that the files ship with it; ``HERE`` is the folder to pass to ``councilspend add``.
"""

from pathlib import Path

HERE = Path(__file__).parent
NEWCASTLE = HERE / "newcastle-upon-tyne-2022-08.csv"
