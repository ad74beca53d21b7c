"""Hub Space entry point: paste predictions and references as JSON, get the scores.

``python app.py`` (what a Gradio Space runs) starts the interface; importing this module does not
need gradio. evaluate's ``launch_gradio_widget`` builds a table input that cannot hold per-sample
lists of span records, hence this small form.

Example:
    >>> score_json('[[{"text": "Lyon", "label": "city", "start": 0, "end": 4}]]',
    ...            '[[{"text": "Lyon", "label": "city", "start": 0, "end": 4}]]', "span", "strict", "")["f1"]
    1.0
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

if __package__:  # imported from the installed package
    from .scorer import MATCHING, score_spans, score_tags
else:  # run as a script in the Space folder (any folder name): import the folder as `dynamicner_f1`
    _HERE = Path(__file__).resolve().parent
    _SPEC = importlib.util.spec_from_file_location("dynamicner_f1", _HERE / "__init__.py", submodule_search_locations=[str(_HERE)])
    _PACKAGE = importlib.util.module_from_spec(_SPEC)
    sys.modules["dynamicner_f1"] = _PACKAGE
    _SPEC.loader.exec_module(_PACKAGE)
    from dynamicner_f1.scorer import MATCHING, score_spans, score_tags

CONFIGS = ("span", "bio", "bio-strict")


def score_json(predictions: str, references: str, config: str, matching: str, type_lists: str) -> dict[str, float]:
    """Parse the JSON fields and score them; ``type_lists`` may be empty."""
    pred = json.loads(predictions)
    gold = json.loads(references)
    lists = json.loads(type_lists) if type_lists.strip() else None
    if config == "span":
        return score_spans(pred, gold, matching=matching, type_lists=lists)
    if config not in CONFIGS:
        raise ValueError(f"config={config!r} is not one of {list(CONFIGS)}")
    return score_tags(pred, gold, rule="lenient" if config == "bio" else "strict", matching=matching, type_lists=lists)


def main() -> None:
    import gradio as gr

    demo = gr.Interface(
        fn=score_json,
        inputs=[
            gr.Textbox(label="predictions (JSON: per sample, span records or IOB2 tags)", lines=6),
            gr.Textbox(label="references (JSON, same shape)", lines=6),
            gr.Dropdown(list(CONFIGS), value="span", label="config"),
            gr.Dropdown(list(MATCHING), value="strict", label="matching"),
            gr.Textbox(label="type_lists (optional JSON: per sample, a list of types)", lines=2),
        ],
        outputs=gr.JSON(label="scores"),
        title="DynamicNER F1",
        description=(Path(__file__).resolve().parent / "README.md").read_text(encoding="utf-8").split("---", 2)[-1][:2000],
    )
    demo.launch()


if __name__ == "__main__":
    main()
