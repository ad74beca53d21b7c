"""``cascadener push-results``: publish a results JSON to the Hub's DynamicNER benchmark.

The results JSON (from ``cascadener evaluate`` or ``cascadener run``) is validated against the
shipped schema first; malformed files, NaN or empty scores, and runs that did not predict their
whole test split (reduced by ``--max-test``/``--limit``, interrupted, or of schema 2, which does
not record it) are refused. Then, every score in percent with two decimals:

- ``.eval_results/dynamicner.yaml`` goes to the model repo (``--model-id``): one entry per task
  of the benchmark (``--benchmark-id``, the exported dataset; its tasks come from
  ``--eval-yaml``, else the benchmark's ``eval.yaml`` in the local Hub cache, else this project's
  task list). ``dataset.revision`` is a commit of the benchmark repo: ``--dataset-revision`` (40
  hex digits), else the commit of the benchmark's ``eval.yaml`` or card in the Hub cache, else
  absent. With ``--create-pr`` it arrives as a pull request, which the Hub shows as a community
  result;
- the card's legacy ``model-index`` is updated, its ``dataset.type`` set to the benchmark id, with
  the same unit and dataset revision;
- with ``--results-repo``, the JSON is uploaded as ``results/<run_id>.json`` to that dataset repo
  (each entry's ``source`` links to it). It names the model as published: ``--model-id`` and its
  commit (``--model-revision``, else the model repo's current commit: from the Hub, or from the
  Hub cache in a dry run); the identity the run was scored under stays in ``model.local``.

``--dry-run`` writes the card (``README.md``), ``.eval_results/dynamicner.yaml`` and
``results/<run_id>.json`` (the file that would be uploaded) under ``--output-dir`` instead and
touches no network. The token comes only from ``HF_TOKEN`` or ``hf auth login``: there is no token
option, and nothing here prints or writes it.

Example:
    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="cascadener").add_subparsers()
    >>> args = add_parser(sub).parse_args(["r.json", "--model-id", "me/m", "--benchmark-id", "me/DynamicNER",
    ...                                    "--dry-run", "--output-dir", "out"])
    >>> args.dry_run, args.results_repo, args.create_pr, args.dataset_revision
    (True, None, False, None)
"""

from __future__ import annotations

import argparse
import re
import os
import sys
from pathlib import Path

from .common import CliError, locked_output

__all__ = ["add_parser", "run", "benchmark_tasks", "model_commit"]

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_SHA = re.compile(r"^[0-9a-fA-F]{40}$")


def _repo_id(value: str) -> str:
    if not _REPO_ID.match(value) or "--" in value or ".." in value or len(value) > 96:
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid Hub repo id (expected 'owner/name')")
    return value


def _commit(value: str) -> str:
    if not _SHA.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a commit: give the full 40-hex sha (a branch, a tag or a "
                                         "short sha can move or collide)")
    return value.lower()


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("push-results", help="publish results to the benchmark, a model card and a "
                                   "results dataset", description=__doc__.split("\n\n")[0])
    inputs = parser.add_argument_group("input")
    inputs.add_argument("results", help="results JSON written by cascadener evaluate or cascadener run")
    hub = parser.add_argument_group("hub")
    hub.add_argument("--model-id", type=_repo_id, required=True,
                     help="model repo receiving .eval_results/dynamicner.yaml and the model-index")
    hub.add_argument("--benchmark-id", type=_repo_id, default=None,
                     help="Hub id of the exported DynamicNER dataset (with its eval.yaml)")
    hub.add_argument("--eval-yaml", default=None,
                     help="the benchmark's eval.yaml (none: from the Hub cache, else this project's tasks)")
    hub.add_argument("--dataset-revision", type=_commit, default=None,
                     help="40-hex commit of the benchmark dataset repo the run scored (none: the commit of its "
                          "eval.yaml or card in the Hub cache, else none)")
    hub.add_argument("--model-revision", type=_commit, default=None,
                     help="40-hex commit of the model repo the scored weights are (none: its current commit; "
                          "in a dry run, from the Hub cache)")
    hub.add_argument("--results-repo", type=_repo_id, default=None,
                     help="dataset repo receiving results/<run_id>.json (none: no upload of the results JSON)")
    hub.add_argument("--metrics", default=None,
                     help="comma-separated metric keys for model-index (none: all overall scores)")
    hub.add_argument("--create-pr", action="store_true",
                     help="open pull requests on the model repo (when you do not own it: a community result)")
    output = parser.add_argument_group("output")
    output.add_argument("--dry-run", action="store_true", help="write every file locally, no network")
    output.add_argument("--output-dir", default=None, help="folder for --dry-run output")
    parser.set_defaults(func=run)
    return parser


def benchmark_tasks(benchmark_id: str, eval_yaml: str | None, *,
                    local_only: bool = True) -> tuple[list[str], str | None, str]:
    """``(task ids, dataset revision or None, where they came from)`` for ``benchmark_id``. The revision is
    the commit of the benchmark's ``eval.yaml`` (else its card) in the Hub cache: never a guess."""
    from dynamicner_data.eval_yaml import EvalYamlError, eval_tasks, read_eval_yaml

    from cascadener.publishing.hub import cached_commit

    if eval_yaml is not None:
        try:
            data = read_eval_yaml(eval_yaml)
        except EvalYamlError as error:
            raise CliError(str(error)) from None
        cached = cached_commit(benchmark_id, repo_type="dataset", filenames=("eval.yaml", "README.md"))
        return [task["id"] for task in data["tasks"]], cached[0] if cached else None, eval_yaml
    try:
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(benchmark_id, "eval.yaml", repo_type="dataset", local_files_only=local_only))
    except Exception:  # offline and not cached, no such repo, no eval.yaml: fall back to our own list
        from dynamicner_data.builder import CONFIG_NAMES

        cached = cached_commit(benchmark_id, repo_type="dataset", filenames=("README.md",))
        return ([task["id"] for task in eval_tasks(CONFIG_NAMES)], cached[0] if cached else None,
                "this project's task list (no eval.yaml of the benchmark in the Hub cache)")
    try:
        data = read_eval_yaml(path)
    except EvalYamlError as error:
        raise CliError(f"the eval.yaml of {benchmark_id}: {error}") from None
    revision = path.parent.name.lower() if _SHA.match(path.parent.name) else None
    return [task["id"] for task in data["tasks"]], revision, f"the eval.yaml of {benchmark_id}"


def model_commit(model_id: str, *, local_only: bool) -> str | None:
    """The current commit of the model repo ``model_id``: from the Hub cache, else (not ``local_only``)
    from the Hub; ``None`` when neither knows it."""
    from cascadener.publishing.hub import cached_commit

    cached = cached_commit(model_id, repo_type="model",
                           filenames=("config.json", "adapter_config.json", "README.md"))
    if cached is not None:
        return cached[0]
    if local_only:
        return None
    from huggingface_hub import HfApi

    try:
        return HfApi().model_info(model_id).sha
    except Exception:  # no such repo, no access, offline: the push itself reports it
        return None


def _write_error(output_dir: str, error: OSError) -> CliError:
    reason = error.strerror or str(error)
    return CliError(f"cannot write the dry-run output to {output_dir}: {reason}")


def run(args: argparse.Namespace) -> int:
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
    if not args.dry_run:
        return _publish(args)
    # one writer per folder: a second dry run into the same --output-dir is refused before any work
    with locked_output(os.path.abspath(args.output_dir), make_parent=True,
                       lock_error=lambda error: _write_error(args.output_dir, error)):
        return _publish(args)


def _publish(args: argparse.Namespace) -> int:
    """Check the results, then write them (``--dry-run``, under the output folder's lock) or push them."""
    from cascadener.publishing import hub

    where = f"results file {args.results}"
    try:
        results = hub.load_results(args.results)
        keys = [key.strip() for key in args.metrics.split(",") if key.strip()] if args.metrics else None
        hub.check_publishable(results, metric_keys=keys, where=where)  # before any write
        hub.check_complete(results, where=where)
        tasks, cached_revision, origin = benchmark_tasks(args.benchmark_id, args.eval_yaml, local_only=args.dry_run)
        revision, revision_origin = args.dataset_revision, "--dataset-revision"
        if revision is None and results.dataset.get("id") == args.benchmark_id and hub.is_commit(
                results.dataset.get("revision")):
            revision, revision_origin = results.dataset["revision"], "the run's dataset (the benchmark repo)"
        if revision is None and cached_revision is not None:
            revision, revision_origin = cached_revision, "the benchmark's files in the Hub cache"
        model_revision = args.model_revision or model_commit(args.model_id, local_only=args.dry_run)
        pushed = hub.published(results, model_id=args.model_id, model_revision=model_revision)
        hub.eval_results(pushed, metric_keys=keys, benchmark_id=args.benchmark_id, dataset_revision=revision)
        entries, skipped = hub.eval_result_entries(pushed, benchmark_id=args.benchmark_id, tasks=tasks,
                                                   dataset_revision=revision, results_repo=args.results_repo)
    except (ValueError, FileNotFoundError) as error:
        raise CliError(str(error)) from None
    names = [e.task_id for e in entries]
    shown = ", ".join(names[:6]) + (f", ... ({len(names) - 6} more)" if len(names) > 6 else "")
    print(f"tasks from {origin}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} ({shown or 'none'})")
    if revision is not None:
        print(f"dataset revision {revision} (from {revision_origin})")
    else:
        print(f"dataset revision: none (no eval.yaml or card of {args.benchmark_id} in the Hub cache; "
              "--dataset-revision names it)")
    print(f"model {args.model_id} at {pushed.model['revision']}"
          + ("" if model_revision else " (--model-revision names its commit)"))
    if skipped:
        print(f"not tasks of {args.benchmark_id}, not published as eval results: {', '.join(skipped)}",
              file=sys.stderr)
    if not entries:
        print(f"warning: run {results.run_id} covers none of the tasks of {args.benchmark_id}: no "
              ".eval_results file; the model card and the results JSON are still written", file=sys.stderr)
    source_url = hub.results_url(args.results_repo, results.run_id)
    if args.dry_run:
        try:
            card, json_path = hub.write_dry_run(pushed, args.output_dir, model_id=args.model_id, metric_keys=keys,
                                                benchmark_id=args.benchmark_id, dataset_revision=revision,
                                                source_url=source_url)
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
        urls = hub.push_results(pushed, model_id=args.model_id, results_repo=args.results_repo, metric_keys=keys,
                                benchmark_id=args.benchmark_id, dataset_revision=revision, entries=entries,
                                create_pr=args.create_pr)
    except Exception as error:  # huggingface_hub raises httpx / HfHubHTTPError / OfflineModeIsEnabled ...
        raise CliError(f"publishing failed ({type(error).__name__}): {error}") from None
    for what, url in urls.items():
        print(f"pushed {what}: {url}")
    return 0
