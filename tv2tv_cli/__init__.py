"""The `tv2tv` command line: one subcommand per job; `tv2tv <command> --help` for each.

Each module here holds its commands' arguments next to their jobs, in the order of the flow:

  recordings   record, validate, strip, export     real play recorded, checked, looked at
  prepare      train-vae, encode, tokenizer        what a world model is trained on
  train        train, contexts                     the world model (the job: train_world.py)
  bench        bench, train-judge, speed           how well it obeys words, how fast it draws
  distill      distill                             a sampler that draws in a few steps
  play         play, demo                          a world in a window, or headless to an mp4
  build_world  build-world                         all of the above, one stage at a time
  rl_transfer  rl-transfer                         agents trained in the world, scored in the game

The command line is the top floor: it wires data to training and may import `agents/`;
nothing below imports it. Heavy libraries load only when a command runs, so `--help` is quick.
User mistakes (a `UserError`) print one line and exit with status 2; nothing else is caught,
so real bugs keep their traceback.
"""
from __future__ import annotations

import argparse
import logging
import sys

from tv2tv_env.errors import UserError
from . import bench, build_world, distill, play, prepare, recordings, rl_transfer, train

COMMAND_MODULES = [recordings, prepare, train, bench, distill, play, build_world, rl_transfer]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tv2tv", description="TV2TV Gym: a text-controllable neural game world.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_commands(sub)
    return p


def main(argv=None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command as typed (build-world's model card)
    try:
        return args.func(args)
    except UserError as e:
        print(f"tv2tv {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tv2tv {args.command}: interrupted; completed episodes/checkpoints are kept", file=sys.stderr)
        return 130
