"""`tv2tv record`, `validate`, `strip` and `export`: make a recording of real play, check it,
look at it, hand it to other tools."""
from __future__ import annotations

import json

from tv2tv_env.errors import UserError
from tv2tv_env.games import CARDS, get_card

KNOWN_GAMES = ", ".join(CARDS)



def add_commands(sub):
    r = sub.add_parser("record", help="record real game play (frames + text) into an HDF5 dataset",
                       description="Record real game play from a real engine with a scripted player.")
    r.add_argument("--game", default=None, help=f"a built-in game card to record: {KNOWN_GAMES}")
    r.add_argument("--env", default=None, metavar="ID",
                   help="or any registered Gymnasium env with RGB frames and a Discrete, MultiDiscrete or MultiBinary "
                        "action space (e.g. ALE/Pong-v5, MiniGrid-Empty-5x5-v0); its words come from --card or the "
                        "env's own action names")
    r.add_argument("--env-kwargs", default=None, metavar="JSON", help="keyword arguments of gymnasium.make, as JSON")
    r.add_argument("--card", default=None, metavar="FILE",
                   help='with --env: a JSON card, {"actions": {"name": ["phrase", ...]}} in the env\'s action order, '
                        "plus any GameCard field (tv2tv_env/games/card.py)")
    r.add_argument("--episodes", type=int, required=True, help="episodes to record")
    r.add_argument("--max-chunks", type=int, required=True, help="chunks per episode at most (episodes end early on death)")
    r.add_argument("--out", required=True, help="dataset directory (created; an existing one of the same game is appended to)")
    r.add_argument("--seed", type=int, default=0, help="episode i uses seed+i (default 0)")
    r.add_argument("--workers", type=int, default=1, help="parallel recording processes (default 1)")
    r.add_argument("--retries", type=int, default=2,
                   help="with --workers 2 or more: times an episode is recorded again on a fresh engine when its "
                        "worker dies (an engine crash, a kill -9); past that the command records the rest, then "
                        "exits 2 naming the lost episodes and seeds (default 2)")
    r.add_argument("--height", type=int, default=None, help="frame height (default: the game card's, 64)")
    r.add_argument("--width", type=int, default=None, help="frame width (default: the game card's, 64)")
    r.add_argument("--frames-per-chunk", type=int, default=None,
                   help="frames an action is held for (default: the game card's, 4)")
    r.add_argument("--heldout", type=float, default=0.1,
                   help="fraction of episodes held out, 0 to 1 (default 0.1): round(fraction x episodes), at least "
                        "one and at most all but one when 2 or more episodes are recorded; 1.0 holds out all")
    r.add_argument("--scenario", action="append", help="Doom only: scenario(s), e.g. defend_the_center or freedoom2:MAP01")
    r.add_argument("--player", default=None, choices=["dodge", "hold"],
                   help="Doom only: the scripted player's style (default dodge, as data/doom was recorded; hold keeps "
                        "a mode's strafe, attack and random action for the whole mode: see games/doom.py)")
    r.add_argument("--compression", default="gzip", choices=["gzip", "lzf"], help="HDF5 compression (default gzip)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_record)

    v = sub.add_parser("validate", help="check every episode of a dataset", description="Check every episode: "
                       "shapes, dtypes, lengths, text present, checksums. Exit 0 only when all is well.")
    v.add_argument("dir")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("strip", help="draw a PNG of recorded frames with their text")
    s.add_argument("dir")
    s.add_argument("--out", default="strip.png")
    s.add_argument("--episode", type=int, default=None, help="episode index (default: the first readable)")
    s.add_argument("--start", type=int, default=0, help="first chunk")
    s.add_argument("--chunks", type=int, default=6, help="rows (chunks) to draw")
    s.add_argument("--scale", type=int, default=2)
    s.set_defaults(func=cmd_strip)

    x = sub.add_parser("export", help="export a recorded dataset to another format (today: Minari)",
                       description="Export a recorded dataset as a Minari dataset (needs the optional extra: "
                       "pip install -e \".[minari]\"). One Minari step per chunk: observation = the chunk's last "
                       "frame, action = its text; the chunk's frames and action id go into infos.")
    x.add_argument("--minari", required=True, metavar="DIR", help="dataset directory from `tv2tv record`")
    x.add_argument("--dataset-id", required=True, metavar="NAME", help="Minari id, (namespace/)name-vN, e.g. tv2tv/doom-v0")
    x.add_argument("--out", default=None, metavar="MINARI_ROOT",
                   help="Minari datasets root (default: $MINARI_DATASETS_PATH, else ~/.minari/datasets)")
    x.set_defaults(func=cmd_export)


def _record_game_kwargs(a) -> dict | None:
    """The engine options given (--scenario, --player), refused for a game whose card lacks them."""
    kw, flags = {}, {"scenarios": "--scenario", "player": "--player"}
    if a.scenario:
        kw["scenarios"] = a.scenario
    if a.player:
        kw["player"] = a.player
    options = get_card(a.game).engine_options if a.game else ()
    unknown = [flags[k] for k in kw if k not in options]
    if unknown:
        raise UserError(f"{a.game or a.env} takes no {' or '.join(unknown)} (its game card lists no such engine option)")
    return kw or None


def cmd_record(a):
    from tv2tv_env.data.record import env_card, record

    if (a.game is None) == (a.env is None):
        raise UserError("record needs exactly one of --game NAME (a built-in game card) and --env ID (any Gymnasium env)")
    if a.env is None and (a.env_kwargs or a.card):
        raise UserError("--env-kwargs and --card go with --env ID")
    game, game_kwargs = a.game, _record_game_kwargs(a)  # engine options are checked before any engine starts
    if a.env is not None:
        try:
            env_kwargs = json.loads(a.env_kwargs) if a.env_kwargs else {}
        except json.JSONDecodeError as e:
            raise UserError(f"--env-kwargs is not JSON ({e}); for example --env-kwargs '{{\"frameskip\": 4}}'") from None
        if not isinstance(env_kwargs, dict):
            raise UserError("--env-kwargs must be a JSON object, for example '{\"frameskip\": 4}'")
        game = env_card(a.env, env_kwargs, a.card, a.height, a.width, a.frames_per_chunk).name
    summary = record(game, a.episodes, a.max_chunks, a.out, seed=a.seed, workers=a.workers,
                     height=a.height, width=a.width, frames_per_chunk=a.frames_per_chunk,
                     heldout=a.heldout, compression=a.compression, progress=not a.quiet,
                     game_kwargs=game_kwargs, retries=a.retries)
    print(json.dumps(summary))
    return 0


def cmd_validate(a):
    from tv2tv_env.data.dataset import validate

    meta, rep = validate(a.dir)
    chunks = sum(n for _, n, _ in rep.good)
    held = sum(1 for *_, s in rep.good if s == "heldout")
    print(f"{a.dir}: {meta['game']} {meta['height']}x{meta['width']}, {meta['frames_per_chunk']} frames/chunk")
    print(f"  {len(rep.good)} good episodes ({len(rep.good) - held} train, {held} held out), "
          f"{chunks} chunks, {chunks * meta['frames_per_chunk']} frames")
    for name in rep.incomplete:
        print(f"  note: {name} is an unfinished episode (recording running or killed); ignored")
    for name, why in rep.bad:
        print(f"  BAD {name}: {why}")
    if not rep.good and not rep.bad:
        print("  no episodes")
        return 1
    return 1 if rep.bad else 0


def cmd_strip(a):
    import numpy as np

    from tv2tv_env.data.dataset import iter_episodes
    from tv2tv_env.strip import frame_strip

    for path, ep in iter_episodes(a.dir, "all"):
        if a.episode is not None and ep.attrs.get("episode") != a.episode:
            continue
        s = min(a.start, max(0, len(ep) - 1))
        e = min(len(ep), s + a.chunks)
        title = f"{ep.attrs['game']} / {ep.attrs.get('scenario')} / {path.name} chunks {s + 1}-{e} (recorded)"
        img = frame_strip(np.asarray(ep.frames[s:e]), ep.text[s:e], scale=a.scale, title=title)
        img.save(a.out)
        print(a.out)
        return 0
    raise UserError(f"no readable episode{'' if a.episode is None else f' {a.episode}'} in {a.dir}")


def cmd_export(a):
    from tv2tv_env.data.export_minari import export_minari

    summary = export_minari(a.minari, a.dataset_id, out=a.out)
    print(json.dumps(summary))
    return 0
