"""`tv2tv rl-transfer`: PPO trained in the world model and on the real engine, both scored on
the real game (the job is agents/rl_transfer.py)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path



def add_commands(sub):
    from agents import rl_transfer  # light: its heavy imports happen when it runs

    rl = sub.add_parser("rl-transfer", help="sim-to-real RL: PPO trained in the world model vs on the real engine, "
                        "both scored on the real game", description=rl_transfer.__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    rl_transfer.add_arguments(rl)
    rl.set_defaults(func=cmd_rl_transfer)


def cmd_rl_transfer(a):
    from agents.rl_transfer import run, summary

    print(json.dumps(summary(run(a)) | {"report": str(Path(a.out) / "report.md")}))
    return 0
