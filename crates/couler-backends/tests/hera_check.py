"""Loads Argo documents into the models of hera (PyPI `hera==7.1.0`) and reports every field the
models drop or change.

Input on stdin: a JSON object {name: document}. Output on stdout: a JSON object
{name: [problem, ...]} (an empty list when the document loads intact). A document the models
reject outright is reported as one problem with the validation error.
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore")

from hera.workflows.models import CronWorkflow, Workflow, WorkflowTemplate  # noqa: E402

MODELS = {"Workflow": Workflow, "WorkflowTemplate": WorkflowTemplate, "CronWorkflow": CronWorkflow}


def dump(model):
    if hasattr(model, "model_dump"):
        try:
            return model.model_dump(by_alias=True, exclude_none=True, mode="json")
        except TypeError:
            pass
    return json.loads(model.json(by_alias=True, exclude_none=True))


def load(cls, doc):
    if hasattr(cls, "model_validate"):
        try:
            return cls.model_validate(doc)
        except AttributeError:
            pass
    return cls.parse_obj(doc)


def same_scalar(a, b):
    # Int-or-string and quantities may come back as the other spelling of the same value.
    return a == b or str(a) == str(b)


def compare(path, given, loaded, problems):
    if isinstance(given, dict):
        if not isinstance(loaded, dict):
            problems.append(f"{path}: became {type(loaded).__name__}")
            return
        for k, v in given.items():
            if k not in loaded:
                problems.append(f"{path}.{k}: dropped")
            else:
                compare(f"{path}.{k}", v, loaded[k], problems)
    elif isinstance(given, list):
        if not isinstance(loaded, list) or len(loaded) != len(given):
            problems.append(f"{path}: list changed")
            return
        for i, (g, l) in enumerate(zip(given, loaded)):
            compare(f"{path}[{i}]", g, l, problems)
    elif not same_scalar(given, loaded):
        problems.append(f"{path}: {given!r} became {loaded!r}")


def main():
    docs = json.load(sys.stdin)
    report = {}
    for name, doc in sorted(docs.items()):
        problems = []
        cls = MODELS.get(doc.get("kind"))
        if cls is None:
            problems.append(f"no hera model for kind {doc.get('kind')!r}")
        else:
            try:
                compare("", doc, dump(load(cls, doc)), problems)
            except Exception as e:  # a rejected document is a finding, not a crash
                problems.append(f"rejected: {e}")
        report[name] = problems
    json.dump(report, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
