"""open_clip_train with the loss swapped: ``python -m rpc_open_clip.train --loss rpc [open_clip_train flags]``.

open_clip has no loss registry (``open_clip_train.main`` binds ``create_loss`` at import), so this entry
point takes open_clip_train's own arguments plus:

* ``--loss NAME``: RPC (Tsai et al., ICLR 2021, arXiv 2103.11275) or a peer objective
  (``rpc_open_clip.OBJECTIVES``); it replaces only ``open_clip_train.main.create_loss`` for the run;
* ``--<objective>-<knob>`` for each objective's knobs, e.g. ``--rpc-alpha 0.5`` (the flags and their
  defaults are derived from ``rpc_plugins.OBJECTIVE_KNOBS``);
* ``--loss-reduction`` (auto | all_reduce | gather) and ``--loss-method`` (auto | dense | gram);
* ``--model-config PATH``: a model config json (or a folder of them) registered with
  ``open_clip.add_model_config`` before open_clip reads ``--model`` (repeatable).

Every flag is checked before training starts (an unknown ``--loss``, a bad or foreign knob, a flag
that clashes with the swap: each fails naming the flag). Without ``--loss`` the run is open_clip's,
unchanged.

>>> choice, rest = parse_args(["--loss", "rpc", "--rpc-alpha", "0.5", "--batch-size", "4"])
>>> choice.objective, choice.knobs["alpha"], rest
('rpc', 0.5, ['--batch-size', '4'])
"""

import argparse
import sys
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from .loss import METHODS, OBJECTIVE_KNOBS, OBJECTIVES, REDUCTIONS, create_loss, objective_options, resolve_reduction


class LossChoice(NamedTuple):
    objective: Optional[str]
    knobs: Dict[str, float]
    reduction: str
    method: str
    model_configs: List[str]


def _knob_flag(objective: str, knob: str) -> str:
    return f"--{objective}-{knob.replace('_', '-')}"


def _knob_dest(objective: str, knob: str) -> str:
    return f"knob__{objective}__{knob}"


def build_parser() -> argparse.ArgumentParser:
    """The flags this entry point adds to open_clip_train's (no abbreviations: open_clip's stay its own)."""
    parser = argparse.ArgumentParser(
        prog="python -m rpc_open_clip.train",
        description="open_clip_train with --loss: every other flag is open_clip_train's (see its --help).",
        allow_abbrev=False,
        add_help=False,
    )
    parser.add_argument("--help-loss", action="help", help="show these flags and exit")
    parser.add_argument("--loss", choices=OBJECTIVES, default=None, help="objective replacing open_clip's loss")
    parser.add_argument("--loss-reduction", choices=REDUCTIONS, default="auto", help="across ranks (auto: "
                        "all_reduce for moment objectives such as rpc, gather otherwise)")  # fmt: skip
    parser.add_argument("--loss-method", choices=METHODS, default="auto", help="RPC's moments: dense or gram")
    parser.add_argument("--model-config", action="append", default=[], metavar="PATH",
                        help="model config json or folder, registered with open_clip.add_model_config")  # fmt: skip
    for objective, knobs in OBJECTIVE_KNOBS.items():
        for knob, default in knobs.items():
            parser.add_argument(
                _knob_flag(objective, knob),
                dest=_knob_dest(objective, knob),
                metavar="VALUE",
                type=float,
                default=None,
                help=f"{objective}'s {knob} (default {default if default is not None else 1.0})",
            )
    return parser


def parse_args(argv: Sequence[str]) -> Tuple[LossChoice, List[str]]:
    """Split ``argv`` into this entry point's choice and open_clip_train's arguments; checks ours
    (``SystemExit`` with argparse's message naming the flag)."""
    parser = build_parser()
    ours, rest = parser.parse_known_args(list(argv))
    given = {
        (objective, knob): getattr(ours, _knob_dest(objective, knob))
        for objective, knobs in OBJECTIVE_KNOBS.items()
        for knob in knobs
        if getattr(ours, _knob_dest(objective, knob)) is not None
    }
    for objective, knob in given:
        if objective != ours.loss:
            where = f"--loss is {ours.loss!r}" if ours.loss else "no --loss was given"
            parser.error(f"argument {_knob_flag(objective, knob)}: a knob of {objective!r}, but {where}")
    knobs: Dict[str, float] = {}
    if ours.loss is not None:
        options = {knob: value for (_, knob), value in given.items()}
        for knob, value in options.items():  # one knob at a time, so the message names its flag
            try:
                objective_options(ours.loss, {knob: value})
            except ValueError as error:
                parser.error(f"argument {_knob_flag(ours.loss, knob)}: {error}")
        knobs = objective_options(ours.loss, options)
        try:
            resolve_reduction(ours.loss, ours.loss_reduction)
        except ValueError as error:
            parser.error(f"argument --loss-reduction: {error}")
    else:
        for flag, value, default in (("--loss-reduction", ours.loss_reduction, "auto"),
                                     ("--loss-method", ours.loss_method, "auto")):  # fmt: skip
            if value != default:
                parser.error(f"argument {flag}: needs --loss")
    choice = LossChoice(ours.loss, knobs, ours.loss_reduction, ours.loss_method, list(ours.model_config))
    return choice, rest


def check_host_args(choice: LossChoice, rest: Sequence[str]) -> None:
    """Parse open_clip_train's own flags now (its errors come before training too) and refuse the
    ones that pick another loss."""
    from open_clip_train.params import parse_args as host_parse_args

    if choice.objective is None:
        return
    args = host_parse_args(list(rest))
    clashes = [("--siglip", args.siglip), ("--distill-model", args.distill_model is not None)]
    clashes.append(("--model", "coca" in str(args.model).lower()))
    for flag, clash in clashes:
        if clash:
            raise SystemExit(
                f"{build_parser().prog}: error: argument {flag}: picks open_clip's own loss "
                f"({args.model if flag == '--model' else flag}), which --loss {choice.objective} replaces; drop one"
            )


def main(argv: Optional[Sequence[str]] = None):
    """Run open_clip_train.main with ``--loss``'s objective in place of its loss."""
    argv = list(sys.argv[1:] if argv is None else argv)
    choice, rest = parse_args(argv)
    import open_clip

    for path in choice.model_configs:
        open_clip.add_model_config(path)
    check_host_args(choice, rest)
    import open_clip_train.main as host

    if choice.objective is None:
        return host.main(rest)
    original = host.create_loss

    def swapped_create_loss(args):
        return create_loss(args, choice.objective, choice.knobs, choice.reduction, choice.method)

    host.create_loss = swapped_create_loss
    try:
        return host.main(rest)
    finally:
        host.create_loss = original


if __name__ == "__main__":
    main()
