"""Crafted texts for the filter tests: varied English prose that passes every web.yaml quality rule."""

from __future__ import annotations

from tests.data_prep.configs import pipeline_config

__all__ = ["PROSE", "PROSE_LINES", "pipeline_config"]

PROSE_LINES = [
    "The river that runs through the old town has shaped the lives of its people for centuries.",
    "Farmers used to bring their grain to the mill on the eastern bank, and traders came with salt and cloth.",
    "When the railway arrived, the quiet harbour changed almost overnight into a busy market.",
    "Historians still argue about whether the new bridge helped the town or slowly drained its trade.",
    "Today visitors walk along the water to see the restored warehouses and the small maritime museum.",
    "Local guides explain how floods were managed with a clever system of gates and channels.",
    "Many families have kept letters and photographs that show how daily work was organised.",
    "Those records are now being collected with care, so that future students can learn from them.",
]
PROSE = "\n".join(PROSE_LINES)
