"""Where is a commanded action lost? Three measurements on held-out episodes (issue 42).

    python scripts/diagnose_actions.py --data runs/doom-fresh-80000 [--checkpoint checkpoints/doom-small] \
        [--per-action 32] [--velocity-starts 2] [--parts held switch velocity] [--out runs/diagnose.json]

1. held: starts where the recorder held one action for the last context chunk and the next
   one (the default Doom player holds a strafe 1.2 chunks on average and never 4, so a longer
   hold would find no strafe at all). The model gets the recorded wording of that action for
   three chunks. The judge reads the real next chunk (the ceiling), the first generated chunk
   beside the real chunk before it (one step, teacher-forced: everything before it is real), and
   generated chunks 2 and 3 beside the generated chunk before each (rollout, as `tv2tv bench`
   probes). A strafe already lost at one step is lost in the video tower's single prediction;
   one lost only in rollout is lost to drift, or to holds the recording never shows. Also
   reported: the one-step chunk's PSNR against the real one, and how much the picture moves
   (mean absolute change of a pixel from frame to frame, 0-255, from the context's last frame
   on) in the real chunk and the generated one: a model that draws more motion than real play
   pays in PSNR where the judge still reads the right action. And each action's share of the
   recorded chunks and its mean run length.
2. velocity: how far the command moves the predicted velocity at each flow time. The real next
   chunk's latent is noised to each of the sampler's own flow times. At each one, the velocity
   is predicted under each probe command and with no text (the unconditional branch that
   guidance uses), from the same noise. Reported: |v(command) - v(no text)| / |v(no text)|,
   and the gaps between a strafe and the turn and the strafe of the other side.
3. switch: starts where the recorder switched from action A (held for two chunks) to B. The
   model gets B's recorded wording for one chunk. Given is the judge's mean probability of A's
   buttons and of B's in the real chunk and in the generated one. Doom carries momentum, so
   some of A stays in real play too; more of A in the generated chunk means the model keeps
   the old motion.

One JSON object on stdout (and in --out). It reads held-out episodes only, and trains nothing.
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch

from model import precision
from model.flow import patchify
from tv2tv_env.bench.benchmark import concat_starts, starts_at
from tv2tv_env.bench.contestants import StartContexts, WorldContestant
from tv2tv_env.bench.judge import action_button_table, load_judge
from tv2tv_env.bench.metrics import psnr
from tv2tv_env.commands import command_part
from tv2tv_env.data.dataset import iter_episodes, read_meta
from tv2tv_env.games import DEFAULT_GAME, get_card
from tv2tv_env.world import DEFAULT_CHECKPOINT

PROBE_WORDS = {"idle": "stand still", "forward": "move forward", "backward": "move backward", "turn_left": "turn left",
               "turn_right": "turn right", "strafe_left": "strafe left", "strafe_right": "strafe right",
               "shoot": "shoot"}


def held_starts(episodes, Kc: int, names: list[str], actions: list[str], per_action: int, rng) -> dict:
    """Per action: starts whose last context chunk and next chunk both hold it."""
    found = {a: [] for a in actions}
    for path, ep in episodes:
        for i in range(Kc, len(ep)):
            a = names[int(ep.action[i])]
            if a in found and ep.action[i - 1] == ep.action[i]:
                found[a].append((path, ep, i))
    return {a: _pick(rows, per_action, Kc, rng) for a, rows in found.items() if rows}


def switch_starts(episodes, Kc: int, names: list[str], pairs, per_pair: int, rng) -> dict:
    """Per (A, B): starts whose last two context chunks hold A and whose next chunk holds B."""
    found = {p: [] for p in pairs}
    for path, ep in episodes:
        for i in range(Kc, len(ep)):
            p = (names[int(ep.action[i - 1])], names[int(ep.action[i])])
            if p in found and ep.action[i - 2] == ep.action[i - 1]:
                found[p].append((path, ep, i))
    return {p: _pick(rows, per_pair, Kc, rng) for p, rows in found.items() if rows}


def _pick(rows, k: int, Kc: int, rng) -> StartContexts:
    """k of the candidate (path, episode, chunk) rows, drawn without replacement, in their order."""
    return starts_at([rows[j] for j in sorted(rng.choice(len(rows), min(k, len(rows)), replace=False))], Kc)


def run_lengths(episodes, names: list[str]) -> dict:
    """Each action's share of the held-out chunks and how many chunks in a row it is held."""
    runs = {a: [] for a in names}
    total = 0
    for _, ep in episodes:
        total += len(ep)
        cut = np.flatnonzero(np.diff(ep.action)) + 1
        for seg in np.split(ep.action, cut):
            runs[names[int(seg[0])]].append(len(seg))
    return {a: {"share": round(sum(r) / total, 4), "mean_run": round(float(np.mean(r)), 2),
                "runs_2_or_more": int(sum(x >= 2 for x in r)), "runs": len(r)} for a, r in runs.items() if r}


def motion(last_frame: np.ndarray, chunk: np.ndarray) -> np.ndarray:
    """(R, H, W, 3) frame before, (R, F, H, W, 3) chunk -> (R,) mean absolute change of a pixel
    value from one frame to the next."""
    seq = np.concatenate([last_frame[:, None], chunk], 1).astype(np.float32)
    return np.abs(np.diff(seq, axis=1)).mean(axis=(1, 2, 3, 4))


def held_measure(judge, who, starts: dict, names: list[str], seed: int) -> dict:
    out = {}
    for a, ctx in starts.items():
        want = names.index(a)
        words = [command_part(t[0]) for t in ctx.next_texts]  # the recorded wording of each start
        gen = who.rollout(ctx, [[w] * 3 for w in words], np.full((len(ctx), 3), want), seed)
        real = judge.predict_actions(ctx.frames[:, -1], ctx.next_frames[:, 0]) == want
        prev_gen = np.concatenate([ctx.frames[:, -1:], gen[:, :2]], 1)
        got = judge.predict_actions(prev_gen.reshape(-1, *prev_gen.shape[2:]),
                                    gen.reshape(-1, *gen.shape[2:])).reshape(len(ctx), 3) == want
        out[a] = {"starts": len(ctx), "real": float(real.mean()), "one_step": float(got[:, 0].mean()),
                  "rollout_2_3": float(got[:, 1:].mean()),
                  "one_step_psnr": round(float(psnr(gen[:, 0], ctx.next_frames[:, 0]).mean()), 3),
                  "motion_real": round(float(motion(ctx.frames[:, -1, -1], ctx.next_frames[:, 0]).mean()), 3),
                  "motion_one_step": round(float(motion(ctx.frames[:, -1, -1], gen[:, 0]).mean()), 3)}
    return out


def switch_measure(judge, who, starts: dict, names: list[str], buttons: np.ndarray, seed: int) -> dict:
    out = {}
    for (a, b), ctx in starts.items():
        words = [command_part(t[0]) for t in ctx.next_texts]
        gen = who.rollout(ctx, [[w] for w in words], np.full((len(ctx), 1), names.index(b)), seed)
        row = {"starts": len(ctx)}
        for name, frames in (("real", ctx.next_frames[:, 0]), ("generated", gen[:, 0])):
            p = torch.sigmoid(judge.logits(ctx.frames[:, -1], frames)).numpy()
            for who_, act in (("old", a), ("new", b)):
                held = buttons[names.index(act)].astype(bool)
                row[f"{name}_p_{who_}"] = float(p[:, held].mean()) if held.any() else float((1 - p).min(1).mean())
        out[f"{a}->{b}"] = row
    return out


@torch.no_grad()
def velocity_measure(world, ctx: StartContexts, commands: dict, seed: int) -> dict:
    """Per flow time: the command's pull on the velocity, and the gaps between commands."""
    s, cfg = world.sampler, world.model.config
    labels = list(commands)
    R, C = len(ctx), len(labels)
    rows = [r for r in range(R) for _ in labels]  # every start under every command
    x0 = patchify(world.encode_frames(ctx.next_frames[:, :1]), cfg.patch)[:, 0].to(s.device)  # (R, n, P)
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(x0.shape, generator=gen).to(s.device)
    x0, noise = x0[rows], noise[rows]
    ids = [world.encode_text(commands[label]) for _ in range(R) for label in labels]
    vectors = s.complete_command_vectors(ids, None)
    world.reset_to_frames(ctx.frames[rows], [[world.encode_text(t) for t in ctx.texts[r]] for r in rows])
    with precision.autocast(world.device, world.dtype):
        states = s._append_chunk_text(ids, vectors, guided=True)
        velocity = s.velocity_fn(states)
        s.scheduler.set_timesteps(s.steps)
        out = []
        for t in s.scheduler.timesteps:
            sigma = float(t) / 1000.0
            xt = (1 - sigma) * x0 + sigma * noise
            v = velocity(torch.cat([xt, xt]), t).float()
            vc, vu = v[:len(rows)].view(R, C, -1), v[len(rows):].view(R, C, -1)
            scale = vu.norm(dim=-1).mean()
            pull = ((vc - vu).norm(dim=-1) / vu.norm(dim=-1)).mean(0)
            gap = lambda p, q: float((vc[:, labels.index(p)] - vc[:, labels.index(q)]).norm(dim=-1).mean() / scale)  # noqa: E731
            row = {"sigma": round(sigma, 3), "pull": {label: round(float(pull[i]), 4) for i, label in enumerate(labels)}}
            row["gap"] = {f"{p}|{q}": round(gap(p, q), 4) for p, q in
                          [("strafe_left", "turn_left"), ("strafe_right", "turn_right"), ("strafe_left", "strafe_right"),
                           ("turn_left", "turn_right"), ("strafe_left", "idle"), ("turn_left", "idle"),
                           ("forward", "backward")] if p in labels and q in labels}
            out.append(row)
    return {"starts": R, "per_sigma": out}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT[DEFAULT_GAME]))
    p.add_argument("--data", required=True, help="recorded Doom dataset with held-out episodes")
    p.add_argument("--judge", default=None, help="judge directory (default: the checkpoint's judge/)")
    p.add_argument("--per-action", type=int, default=32, help="held starts per probe action")
    p.add_argument("--per-switch", type=int, default=32, help="starts per switch")
    p.add_argument("--velocity-starts", type=int, default=2, help="starts per probe action for the velocity measure")
    p.add_argument("--parts", nargs="+", default=["held", "switch", "velocity"], choices=["held", "switch", "velocity"],
                   help="which measurements (default all three)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    game = read_meta(a.data)["game"]
    card = get_card(game)
    names = list(card.action_names)
    rng = np.random.default_rng(a.seed)
    who = WorldContestant("tv2tv", a.checkpoint, game=game)
    judge = load_judge(a.judge or Path(a.checkpoint) / "judge")
    Kc = who.world.context_chunks
    episodes = list(iter_episodes(a.data, "heldout"))  # read once: the three selections share them
    report = {"checkpoint": a.checkpoint, "data": a.data, "run": who.info, "recorded": run_lengths(episodes, names)}
    held = held_starts(episodes, Kc, names, list(PROBE_WORDS), a.per_action, rng)
    if "held" in a.parts:
        report["held"] = held_measure(judge, who, held, names, a.seed)
        print(json.dumps({"held": report["held"]}), flush=True)
    switches = switch_starts(episodes, Kc, names, list(card.switches) + [("strafe_left", "turn_right"),
                                                                         ("turn_left", "strafe_right")],
                             a.per_switch, rng)  # drawn whatever runs, so each part's starts stay the same
    if "switch" in a.parts:
        report["switch"] = switch_measure(judge, who, switches, names,
                                          action_button_table(names, list(card.button_names)), a.seed)
        print(json.dumps({"switch": report["switch"]}), flush=True)
    if "velocity" in a.parts:
        # starts after every probe action alike, so that "no text" (which continues the context's
        # motion) leans to none of them
        vel_ctx = concat_starts([ctx.take(range(min(a.velocity_starts, len(ctx)))) for ctx in held.values()])
        report["velocity"] = velocity_measure(who.world, vel_ctx, PROBE_WORDS, a.seed)
        print(json.dumps({"velocity": report["velocity"]}), flush=True)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
