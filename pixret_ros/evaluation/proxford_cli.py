"""The `pixret-eval proxford` subcommand: arguments, the table it prints, its exit status.

Its own module so that the official protocol (`proxford.py`) and its input readers
(`proxford_inputs.py`) stay free of argparse and printing; `evaluation/cli.py` adds this
parser to `pixret-eval`, and `main` runs it stand-alone.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pixret_ros.errors import EvaluationError, InputError
from pixret_ros.evaluation import proxford
from pixret_ros.evaluation.proxford import OFFICIAL_IGNORED, ProxfordResult, evaluate_proxford
from pixret_ros.evaluation.proxford_inputs import (
    PredictedMasks,
    load_pair_labels,
    load_ranks,
    load_revisitop,
    pair_ious,
)

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]  # noqa: SLF001

EPILOG = """\
examples:
  pixret-eval proxford --gnd revisitop/data/roxford5k/gnd_roxford5k.pkl \\
      --pair-labels pixel_retrieval_benchmarks/oxford_pair2labelpath.npy \\
      --ranks results/roxford_ranks.npy --masks results/proxford_masks/ --out proxford.json
  pixret-eval proxford --gnd gnd_rparis6k.pkl --pair-labels paris_pair2labelpath.npy \\
      --ranks rparis_ranks.npy --masks rparis_masks.npz

--ranks: integer .npy, shape (database size, queries), column q = database indices for
query q, best first. --masks: folder of {q}_{i}.png or .npz with arrays {q}_{i}; (H, W) of
database image i, nonzero = query q's object; missing or empty = not found.
"""


def add_proxford_parser(subparsers: SubParsers) -> argparse.ArgumentParser:
    """Add `proxford` to the `pixret-eval` sub-commands; `run_proxford` runs it."""
    parser = subparsers.add_parser(
        "proxford",
        help="PROxford/PRParis medium/hard D and S mAP@50:5:95 and mIoU (official protocol)",
        description=proxford.__doc__.split("\n\n", 1)[0] if proxford.__doc__ else None,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--gnd", type=Path, required=True, help="revisitop gnd_*.pkl")
    parser.add_argument(
        "--pair-labels", type=Path, required=True, help="oxford/paris_pair2labelpath.npy"
    )
    parser.add_argument(
        "--label-root",
        type=Path,
        help="folder the label paths are relative to (default: that of --pair-labels)",
    )
    parser.add_argument("--ranks", type=Path, required=True, help="image-level ranking .npy")
    parser.add_argument("--masks", type=Path, required=True, help="folder of PNGs or .npz")
    parser.add_argument(
        "--dataset",
        choices=sorted(OFFICIAL_IGNORED),
        help="selects the ignored queries (default: from the --gnd file name)",
    )
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.set_defaults(func=run_proxford)
    return parser


def _dataset(args: argparse.Namespace) -> str:
    if args.dataset:
        return str(args.dataset)
    for name in OFFICIAL_IGNORED:
        if name in args.gnd.name.lower():
            return name
    raise InputError(f"cannot tell oxford from paris by {args.gnd.name!r}; pass --dataset")


def format_table(result: ProxfordResult) -> str:
    """The figures in percent, as the paper prints them, the quirks underneath."""

    def pct(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{100 * value:.2f}"

    title = "PR" + result.dataset.capitalize()
    lines = [f"{title:<10} {'D mAP':>8} {'S mAP':>8} {'D mIoU':>8} {'S mIoU':>8} {'image mAP':>10}"]
    for name, row in (("medium", result.medium), ("hard", result.hard)):
        lines.append(
            f"{name:<10} {pct(row.pixel_map_D):>8} {pct(row.pixel_map_S):>8} "
            f"{pct(row.miou_D):>8} {pct(row.miou_S):>8} {pct(row.image_map):>10}"
        )
    lines.append(f"{result.num_queries} queries, {result.num_images} database images; quirks:")
    lines += [f"  - {q}" for q in result.quirks()]
    return "\n".join(lines)


def run_proxford(args: argparse.Namespace) -> int:
    """Run `pixret-eval proxford`; print the table (and write --out); 1 on bad input."""
    try:
        dataset = _dataset(args)
        data = load_revisitop(args.gnd)
        labels = load_pair_labels(args.pair_labels)
        ranks = load_ranks(args.ranks, num_images=len(data.imlist), num_queries=len(data.qimlist))
        masks = PredictedMasks(args.masks)
        root = args.label_root or args.pair_labels.parent
        ious = pair_ious(data, labels, root, masks, progress=sys.stderr.isatty())
        result = evaluate_proxford(
            data, ranks, ious, dataset=dataset, ignored=OFFICIAL_IGNORED[dataset]
        )
        if args.out:
            args.out.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    except EvaluationError as exc:
        print(f"pixret-eval proxford: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"pixret-eval proxford: {exc}", file=sys.stderr)
        return 1
    print(format_table(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (`python -m pixret_ros.evaluation.proxford_cli`) until the CLI wires it."""
    parser = argparse.ArgumentParser(prog="pixret-eval")
    add_proxford_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
