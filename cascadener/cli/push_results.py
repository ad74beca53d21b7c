"""``cascadener push-results``: publish a results JSON (from ``cascadener evaluate``) to the Hub.

The model repo's card gets the scores in its ``model-index`` (``metadata_update``); with
``--results-repo`` the JSON is also uploaded as ``results/<run_id>.json`` to that dataset repo.
``--dry-run`` writes the card (``README.md``) and the JSON under ``--output-dir`` instead and
touches no network. The token comes only from ``HF_TOKEN`` or ``hf auth login``: there is no
token option, and nothing here prints or writes it.

Example:
    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="cascadener").add_subparsers()
    >>> args = add_parser(sub).parse_args(["r.json", "--model-id", "me/m", "--dry-run", "--output-dir", "out"])
    >>> args.dry_run, args.results_repo
    (True, None)
"""

from __future__ import annotations

import argparse
import re

from .common import CliError

__all__ = ["add_parser", "run"]

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


def _repo_id(value: str) -> str:
    if not _REPO_ID.match(value) or "--" in value or ".." in value or len(value) > 96:
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid Hub repo id (expected 'owner/name')")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("push-results", help="publish results to a model card and a results dataset",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="results JSON written by cascadener evaluate")
    parser.add_argument("--model-id", type=_repo_id, required=True, help="model repo whose card gets model-index")
    parser.add_argument("--results-repo", type=_repo_id, default=None,
                        help="dataset repo receiving results/<run_id>.json")
    parser.add_argument("--metrics", default=None,
                        help="comma-separated metric keys for model-index (default: all overall scores)")
    parser.add_argument("--dry-run", action="store_true", help="write the card and JSON locally, no network")
    parser.add_argument("--output-dir", default=None, help="folder for --dry-run output")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from cascadener import hub

    if args.dry_run and not args.output_dir:
        raise CliError("--dry-run needs --output-dir")
    if args.output_dir and not args.dry_run:
        raise CliError("--output-dir is only used with --dry-run")
    try:
        results = hub.load_results(args.results)
        keys = [key.strip() for key in args.metrics.split(",") if key.strip()] if args.metrics else None
        if args.dry_run:
            card, json_path = hub.write_dry_run(results, args.output_dir, model_id=args.model_id, metric_keys=keys)
            print(f"dry run: wrote {card} (model-index for {args.model_id}) and {json_path}")
            if args.results_repo:
                print(f"dry run: would upload results/{results.run_id}.json to dataset {args.results_repo}")
            return 0
        hub.eval_results(results, metric_keys=keys)  # validate before any network call
    except (ValueError, FileNotFoundError) as error:
        raise CliError(str(error)) from None
    try:
        urls = hub.push_results(results, model_id=args.model_id, results_repo=args.results_repo, metric_keys=keys)
    except Exception as error:  # huggingface_hub raises httpx / HfHubHTTPError / OfflineModeIsEnabled ...
        raise CliError(f"publishing failed ({type(error).__name__}): {error}") from None
    for what, url in urls.items():
        print(f"pushed {what}: {url}")
    return 0
