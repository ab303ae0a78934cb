"""Fields: the named dicts answers read (runs.X.final, analysis.Y, sweep.Z).

A Fields knows its owner's dotted name, so a wrong field in an answer is reported as
"analysis.sr_quality has no field 'psnrr'; fields: ..." rather than a silent blank.
"""

from __future__ import annotations

from typing import Any, Mapping


class Fields(dict):
    """A dict whose unknown keys are reported with the owner's name and the known keys."""

    def __init__(self, owner: str, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.owner = owner
