"""``cascadener push-results``: publish a results JSON to the Hub's DynamicNER benchmark.

The results JSON (from ``cascadener evaluate`` or ``cascadener run``) is validated against the
shipped schema first; malformed files, NaN or empty scores are refused. Then:

- ``.eval_results/dynamicner.yaml`` goes to the model repo (``--model-id``): one entry per task
  of the benchmark (``--benchmark-id``, the exported dataset; its tasks come from
  ``--eval-yaml``, else the benchmark's ``eval.yaml`` in the local Hub cache, else this project's
  task list). ``value`` is the strict micro-F1 in percent. With ``--create-pr`` it arrives as a
  pull request, which the Hub shows as a community result;
- the card's legacy ``model-index`` is updated, its ``dataset.type`` set to the benchmark id;
- with ``--results-repo``, the JSON is uploaded as ``results/<run_id>.json`` to that dataset repo
  (each entry's ``source`` links to it).

``--dry-run`` writes the card (``README.md``), ``.eval_results/dynamicner.yaml`` and
``results/<run_id>.json`` under ``--output-dir`` instead and touches no network. The token comes
only from ``HF_TOKEN`` or ``hf auth login``: there is no token option, and nothing here prints or
writes it.

Example:
    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="cascadener").add_subparsers()
    >>> args = add_parser(sub).parse_args(["r.json", "--model-id", "me/m", "--benchmark-id", "me/DynamicNER",
    ...                                    "--dry-run", "--output-dir", "out"])
    >>> args.dry_run, args.results_repo, args.create_pr
    (True, None, False)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .common import CliError

__all__ = ["add_parser", "run", "benchmark_tasks"]

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_SHA = re.compile(r"^[0-9a-f]{40}$")


def _repo_id(value: str) -> str:
    if not _REPO_ID.match(value) or "--" in value or ".." in value or len(value) > 96:
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid Hub repo id (expected 'owner/name')")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("push-results", help="publish results to the benchmark, a model card and a "
                                   "results dataset", description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="results JSON written by cascadener evaluate or cascadener run")
    parser.add_argument("--model-id", type=_repo_id, required=True,
                        help="model repo receiving .eval_results/dynamicner.yaml and the model-index")
    parser.add_argument("--benchmark-id", type=_repo_id, default=None,
                        help="Hub id of the exported DynamicNER dataset (with its eval.yaml)")
    parser.add_argument("--eval-yaml", default=None,
                        help="the benchmark's eval.yaml (default: from the Hub cache, else this project's tasks)")
    parser.add_argument("--dataset-revision", default=None,
                        help="commit sha of the benchmark dataset the run scored (default: from the Hub cache)")
    parser.add_argument("--results-repo", type=_repo_id, default=None,
                        help="dataset repo receiving results/<run_id>.json")
    parser.add_argument("--metrics", default=None,
                        help="comma-separated metric keys for model-index (default: all overall scores)")
    parser.add_argument("--create-pr", action="store_true",
                        help="open pull requests on the model repo (when you do not own it: a community result)")
    parser.add_argument("--dry-run", action="store_true", help="write every file locally, no network")
    parser.add_argument("--output-dir", default=None, help="folder for --dry-run output")
    parser.set_defaults(func=run)
    return parser


def benchmark_tasks(benchmark_id: str, eval_yaml: str | None, *,
                    local_only: bool = True) -> tuple[list[str], str | None, str]:
    """``(task ids, dataset revision or None, where they came from)`` for ``benchmark_id``."""
    from dynamicner_data.eval_yaml import EvalYamlError, check_eval_yaml, eval_tasks, read_eval_yaml

    if eval_yaml is not None:
        try:
            data = read_eval_yaml(eval_yaml)
        except EvalYamlError as error:
            raise CliError(str(error)) from None
        return [task["id"] for task in data["tasks"]], None, eval_yaml
    try:
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(benchmark_id, "eval.yaml", repo_type="dataset", local_files_only=local_only))
    except Exception:  # offline and not cached, no such repo, no eval.yaml: fall back to our own list
        from dynamicner_data.builder import CONFIG_NAMES

        return ([task["id"] for task in eval_tasks(CONFIG_NAMES)], None,
                "this project's task list (no eval.yaml of the benchmark in the Hub cache)")
    try:
        data = read_eval_yaml(path)
    except EvalYamlError as error:
        raise CliError(f"the eval.yaml of {benchmark_id}: {error}") from None
    check_eval_yaml(data, where=str(path))
    revision = path.parent.name if _SHA.match(path.parent.name) else None
    return [task["id"] for task in data["tasks"]], revision, f"the eval.yaml of {benchmark_id}"


def _write_error(output_dir: str, error: OSError) -> CliError:
    reason = error.strerror or str(error)
    return CliError(f"cannot write the dry-run output to {output_dir}: {reason}")


def run(args: argparse.Namespace) -> int:
    from cascadener.publishing import hub

    if args.dry_run and not args.output_dir:
        raise CliError("--dry-run needs --output-dir")
    if args.output_dir and not args.dry_run:
        raise CliError("--output-dir is only used with --dry-run")
    if args.benchmark_id is None:
        raise CliError("--benchmark-id is required: the Hub id of the exported DynamicNER dataset (dynamicner "
                       "export writes it with its eval.yaml)")
    if args.output_dir:
        out = Path(args.output_dir)
        if out.exists() and not out.is_dir():
            raise CliError(f"--output-dir {out} is a file, not a folder")
    try:
        results = hub.load_results(args.results)
        keys = [key.strip() for key in args.metrics.split(",") if key.strip()] if args.metrics else None
        hub.check_publishable(results, metric_keys=keys, where=f"results file {args.results}")  # before any write
        hub.eval_results(results, metric_keys=keys, benchmark_id=args.benchmark_id)
        tasks, cached_revision, origin = benchmark_tasks(args.benchmark_id, args.eval_yaml, local_only=args.dry_run)
        revision = args.dataset_revision or cached_revision
        if revision is None and _SHA.match(str(results.dataset.get("revision") or "")):
            revision = results.dataset["revision"]
        entries, skipped = hub.eval_result_entries(results, benchmark_id=args.benchmark_id, tasks=tasks,
                                                   dataset_revision=revision, results_repo=args.results_repo)
    except (ValueError, FileNotFoundError) as error:
        raise CliError(str(error)) from None
    names = [e.task_id for e in entries]
    shown = ", ".join(names[:6]) + (f", ... ({len(names) - 6} more)" if len(names) > 6 else "")
    print(f"tasks from {origin}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} ({shown or 'none'})")
    if skipped:
        print(f"not tasks of {args.benchmark_id}, not published as eval results: {', '.join(skipped)}",
              file=sys.stderr)
    if not entries:
        print(f"warning: run {results.run_id} covers none of the tasks of {args.benchmark_id}: no "
              ".eval_results file; the model card and the results JSON are still written", file=sys.stderr)
    if args.dry_run:
        try:
            card, json_path = hub.write_dry_run(results, args.output_dir, model_id=args.model_id, metric_keys=keys,
                                                benchmark_id=args.benchmark_id)
            eval_path = hub.write_eval_results(entries, args.output_dir) if entries else None
        except OSError as error:
            raise _write_error(args.output_dir, error) from None
        if eval_path is not None:
            print(f"dry run: wrote {eval_path} ({'pull request to' if args.create_pr else 'for'} {args.model_id})")
        print(f"dry run: wrote {card} (model-index for {args.model_id}, dataset.type {args.benchmark_id})")
        print(f"dry run: wrote {json_path}")
        if args.results_repo:
            print(f"dry run: would upload results/{results.run_id}.json to dataset {args.results_repo}")
        return 0
    try:
        urls = hub.push_results(results, model_id=args.model_id, results_repo=args.results_repo, metric_keys=keys,
                                benchmark_id=args.benchmark_id, entries=entries, create_pr=args.create_pr)
    except Exception as error:  # huggingface_hub raises httpx / HfHubHTTPError / OfflineModeIsEnabled ...
        raise CliError(f"publishing failed ({type(error).__name__}): {error}") from None
    for what, url in urls.items():
        print(f"pushed {what}: {url}")
    return 0
