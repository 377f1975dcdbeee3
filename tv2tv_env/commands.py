"""Commands: what a TV2TV action string may be, and the form the model reads it in.

Deliberately light (the standard library only): the keyboard agent, the play window and the
wrappers check a command without loading torch, diffusers or a checkpoint.
"""
from __future__ import annotations

import re
import string

# What a command may contain: the recorded text is lower-case English, so letters, digits,
# spaces and common punctuation. Anything else (accents, other scripts, control characters)
# is refused up front with a clear error instead of becoming byte tokens the model never saw.
COMMAND_CHARSET = string.ascii_letters + string.digits + " .,;:!?'\"-+()/&"
MAX_COMMAND_LENGTH = 120


def normalize_command(text: str) -> str:
    """The form commands were recorded in: lower case, single spaces, no outer spaces."""
    return re.sub(r"\s+", " ", text).strip().lower()


# What a recorded chunk's text may carry after the player's command ("move forward but a wall
# is in the way; an enemy dies"): events the engine decided, not the player.
EVENT_TAIL = (";", " but ")


def command_part(text: str) -> str:
    """The player's command in a recorded chunk's text: the text before any event it reports."""
    for mark in EVENT_TAIL:
        text = text.split(mark)[0]
    return text.strip()


def check_command(text, max_length: int = MAX_COMMAND_LENGTH) -> str:
    """Refuse what the model cannot read, naming the problem and the fix."""
    if not isinstance(text, str):
        raise TypeError(f"a TV2TV action is a string (a command such as 'turn left', or '' to let the model "
                        f"decide), not {type(text).__name__}; for integer actions wrap the env in "
                        f"tv2tv_env.DiscreteTextActions")
    if len(text) > max_length:
        raise ValueError(f"the command is {len(text)} characters long; at most {max_length} are allowed: "
                         f"say one thing per step (e.g. 'turn left and shoot')")
    bad = sorted(set(text) - set(COMMAND_CHARSET))
    if bad:
        raise ValueError(f"the command {text!r} has characters outside the action charset: {''.join(bad)!r}. "
                         f"The model was trained on English game commands in plain ASCII letters, digits "
                         f"and punctuation ({COMMAND_CHARSET[62:]!r}); rephrase with those")
    return text
