"""The controllability benchmark: metrics with known answers, and `tv2tv bench` end to end."""
import json

import numpy as np
import pytest

from conftest import SHIPPED
from tv2tv_env.bench.benchmark import (action_accuracy, frame_quality, judge_chunks, load_starts, read_commands_file,
                                       run_benchmark)
from tv2tv_env.bench.contestants import CopyLastFrame, RealContinuation
from tv2tv_env.bench.judge import load_judge
from tv2tv_env.bench.metrics import psnr
from tv2tv_env.errors import UserError
from tv2tv_env.games import get_card
from tv2tv_env.games.doom import ACTION_NAMES, PHRASES

DOOM = get_card("doom")

JUDGE = SHIPPED / "judge"
MOVES = ["forward", "backward", "turn_left", "turn_right", "strafe_left", "strafe_right"]


def hits_over_n(result: dict) -> float:
    """An action-accuracy result's accuracy recomputed from its own confusion counts."""
    c = result["confusion"]
    return sum(row[c["columns"].index(label)] for label, row in zip(c["rows"], c["counts"])) / result["n"]


@pytest.fixture(scope="module")
def starts(doom_latent_data):
    return load_starts(doom_latent_data, episodes=4, context_chunks=2, horizon=6, per_episode=2, seed=0)


def test_starts_can_leave_out_states_no_command_can_steer(doom_latent_data, starts):
    # with nothing left out, the same starts as before the option existed (reports stay reproducible)
    same = load_starts(doom_latent_data, episodes=4, context_chunks=2, horizon=6, per_episode=2, seed=0, skip_after=[])
    assert same.source == starts.source
    common = np.bincount(starts.actions[:, -1]).argmax()  # the action that ends most contexts
    fewer = load_starts(doom_latent_data, episodes=4, context_chunks=2, horizon=6, per_episode=2, seed=0,
                        skip_after=[common])
    assert len(fewer) and not (fewer.actions[:, -1] == common).any()


def test_an_unknown_action_to_skip_is_named(doom_latent_data, tmp_path):
    from tv2tv_env.bench.benchmark import run_benchmark
    from tv2tv_env.errors import UserError

    with pytest.raises(UserError, match="fly is not an action of doom; its actions: .*forward"):
        run_benchmark(None, doom_latent_data, JUDGE, tmp_path / "bench", skip_starts_after=["fly"])


def test_by_default_the_bench_skips_the_cards_unresponsive_actions(doom_latent_data, tmp_path, monkeypatch):
    import dataclasses

    from tv2tv_env.bench import benchmark
    from tv2tv_env.errors import UserError

    doom = benchmark.get_card("doom")
    monkeypatch.setattr(benchmark, "get_card", lambda game: dataclasses.replace(doom, unresponsive_actions=("fly",)))
    with pytest.raises(UserError, match="doom card's unresponsive_actions: fly is not an action"):
        benchmark.run_benchmark(None, doom_latent_data, JUDGE, tmp_path / "bench")


@pytest.mark.slow
def test_a_card_without_new_word_lists_is_benched_without_those_columns(doom_latent_data, tiny_run, tmp_path,
                                                                        monkeypatch):
    """A Gymnasium env's generated card has no new-word lists: `build-world --env` must still bench
    (it failed there, in a rollout of no command)."""
    import dataclasses

    from tv2tv_env.bench import benchmark
    from tv2tv_env.bench.contestants import WorldContestant

    bare = dataclasses.replace(DOOM, unseen_phrases={}, recombined_phrases={}, everyday_phrases={})
    monkeypatch.setattr(benchmark, "get_card", lambda game: bare)
    report = benchmark.run_benchmark(None, doom_latent_data, JUDGE, tmp_path / "bench", episodes=1, horizon=2,
                                     progress=False, long_horizon=0, off_topic_steps=0, thought_steps=0,
                                     outcome_chunks=0, contestants=[WorldContestant("TV2TV", tiny_run, "doom")])
    tv = report["models"]["TV2TV"]
    # the recorded wordings are still probed: every probe action, at every start, 2 scored chunks of 3
    assert set(tv["action"]["per_action"]) == set(DOOM.probe)
    assert tv["action"]["n"] == report["heldout_starts"] * len(DOOM.probe) * 2
    assert not {"action_unseen_wording", "action_new_phrasing", "action_everyday_wording"} & set(tv)
    row = next(line for line in (tmp_path / "bench" / "report.md").read_text().splitlines() if line.startswith("| TV2TV"))
    assert row.split(" | ")[2:4] == ["-", "-"]  # new phrasing, new words: not measured, not zero


def test_actions_the_judge_cannot_read_in_real_play_are_named():
    from tv2tv_env.bench.benchmark import unreadable_actions

    per_action = {"noop": {"samples": 15, "accuracy": 0.0}, "do": {"samples": 250, "accuracy": 0.88},
                  "sleep": {"samples": 0, "accuracy": None}}
    assert unreadable_actions(per_action, ["noop", "do", "sleep", "place_plant"]) == {
        "noop": "0% of 15 held-out chunks", "sleep": "no held-out chunk of it", "place_plant": "no held-out chunk of it"}
    assert unreadable_actions(per_action, ["do"]) == {}


@pytest.fixture(scope="module")
def judge():
    return load_judge(JUDGE)


def test_the_real_continuation_is_perfect_quality(starts):
    q = frame_quality(RealContinuation(), starts, horizon=4, seed=0)
    assert q["rollout"]["1"]["psnr"] == np.inf and q["rollout"]["4"]["psnr"] == np.inf
    assert q["rollout"]["4"]["ssim"] == pytest.approx(1.0) and q["teacher_forced"]["ssim"] == pytest.approx(1.0)


def test_judge_reads_the_real_continuation_as_well_as_real_data(starts, judge):
    frames = RealContinuation().rollout(starts, starts.next_texts, starts.next_actions)
    got = judge_chunks(judge, starts.last_frames, frames)
    direct = judge.predict_actions(np.concatenate([starts.last_frames[:, None], starts.next_frames[:, :-1]], 1)
                                   .reshape(-1, *frames.shape[2:]), frames.reshape(-1, *frames.shape[2:]))
    np.testing.assert_array_equal(got.ravel(), direct)
    assert (got == starts.next_actions).mean() > 0.5  # the shipped judge knows real Doom


def test_copy_last_frame_never_moves_and_ignores_text(starts, judge):
    seen = {a: PHRASES[a] for a in MOVES + ["idle"]}
    acc = action_accuracy(judge, CopyLastFrame(), starts, seen, ACTION_NAMES, chunks=3, seed=0)
    # A frozen frame never shows a turn. (Walking into a wall is static in Doom too, so the
    # judge may read a frozen frame as "forward" now and then: movement stays far from chance-free.)
    assert acc["per_action"]["turn_left"] == 0.0 and acc["per_action"]["turn_right"] == 0.0
    assert np.mean([acc["per_action"][a] for a in MOVES]) < 0.34
    q = frame_quality(CopyLastFrame(), starts, horizon=4, seed=0)
    assert q["delta_psnr"] == 0.0  # action-blind: shuffled text changes nothing
    # its rollout PSNR is exactly the held last frame against each real frame that followed
    still, F = starts.last_frames[:, -1], starts.next_frames.shape[2]
    for h in (1, 4):
        per_start = np.mean([psnr(still, starts.next_frames[:, h - 1, f]) for f in range(F)], axis=0)
        assert q["rollout"][str(h)]["psnr"] == pytest.approx(per_start[np.isfinite(per_start)].mean(), rel=1e-12)


def test_confusion_matrix_counts_every_judged_chunk(starts, judge):
    seen = {a: PHRASES[a] for a in ["idle", "turn_left"]}
    acc = action_accuracy(judge, RealContinuation(), starts, seen, ACTION_NAMES, chunks=3, seed=0)
    counts = np.array(acc["confusion"]["counts"])
    assert counts.shape == (2, len(ACTION_NAMES)) and counts.sum() == acc["n"] == len(starts) * 2 * 2  # 3 chunks, the first unscored


def test_every_wording_of_an_action_is_probed(starts, judge):
    """Eight labels with two wordings each: every wording reaches some start (indexing wordings
    by row once gave each label the same one at every start)."""
    class Recording(CopyLastFrame):
        def rollout(self, ctx, texts, actions, seed=0):
            self.texts = texts
            return super().rollout(ctx, texts, actions, seed)

    who = Recording()
    wordings = {a: PHRASES[a][:2] for a in ACTION_NAMES[:8]}
    action_accuracy(judge, who, starts, wordings, ACTION_NAMES, chunks=2, seed=0)
    assert {row[0] for row in who.texts} == {p for ps in wordings.values() for p in ps}


def test_commands_file(tmp_path):
    f = tmp_path / "c.tsv"
    f.write_text("# mine\nturn_left\tveer left\nturn_left\tgo leftwards\nshoot\tblast\n")
    assert read_commands_file(f, ACTION_NAMES) == {"turn_left": ["veer left", "go leftwards"], "shoot": ["blast"]}
    f.write_text("jump\thop\n")
    with pytest.raises(UserError, match="unknown action label 'jump'"):
        read_commands_file(f, ACTION_NAMES)
    f.write_text("turn left\n")
    with pytest.raises(UserError, match="TAB"):
        read_commands_file(f, ACTION_NAMES)


@pytest.mark.slow
def test_bench_end_to_end_with_every_baseline(doom_latent_data, tiny_run, tiny_student, tmp_path):
    from conftest import train_world

    baselines = []
    for cond in ["prompt", "plan", "action_id"]:
        run = tmp_path / cond
        train_world(doom_latent_data, run, config="tiny", max_steps=4, batch_size=4, samples=False,
                    conditioning=cond, eval_every=1000)
        baselines.append(run)
    words = tmp_path / "w.tsv"
    words.write_text("turn_left\tveer left\nforward\tgo ahead\n")
    out = tmp_path / "bench"
    report = run_benchmark(tiny_run, doom_latent_data, JUDGE, out, baselines, episodes=2, horizon=4,
                           commands_file=words, progress=False, long_horizon=16, off_topic_steps=8, thought_steps=8,
                           outcome_chunks=8, distilled=tiny_student)
    assert set(report["models"]) == {"TV2TV", "TV2TV, distilled (1 step)", "T2V", "Think2V", "action-id",
                                     "copy-last-frame"}
    assert report["models"]["TV2TV, distilled (1 step)"]["info"]["distilled_steps"] == 1
    # words people type, off-topic text, thoughts and long rollouts
    tv = report["models"]["TV2TV"]
    everyday = tv["action_everyday_wording"]
    assert set(everyday["per_action"]) == {a for a in DOOM.probe if a in DOOM.everyday_phrases}
    assert everyday["n"] == report["heldout_starts"] * len(everyday["per_action"]) * 2  # 3 chunks, the first unscored
    for name in ["TV2TV", "T2V", "Think2V", "action-id"]:
        ot = report["models"][name]["off_topic"]
        for side in ["off_topic", "recorded"]:
            assert ot[side]["n"] >= 8 and 0 <= ot[side]["end_rate"] <= 1 and np.isfinite(ot[side]["frechet"])
    assert sum(tv["off_topic"]["off_topic"]["read_as"].values()) == tv["off_topic"]["off_topic"]["n"]
    assert tv["thoughts"]["n"] >= 8 and tv["thoughts"]["empty"] == 0  # the model always writes something
    assert "thoughts" not in report["models"]["T2V"]  # only TV2TV writes a chunk's text
    for name in ["TV2TV", "T2V", "Think2V"]:
        lr = report["models"][name]["long_rollout"]
        assert lr["horizon"] == 16 and lr["n"] == 16 * report["heldout_starts"] and lr["frechet"] >= 0
        assert list(lr["per_stretch"]) == ["1-16"]
    assert "long_rollout" not in report["models"]["action-id"]
    assert all(isinstance(p, str) for p in report["models"]["Think2V"]["long_rollout"]["prompts"])  # its own plan
    assert report["long_horizon"]["copy-last-frame"]["frechet"] > 0
    for name in ["TV2TV", "T2V", "Think2V", "action-id"]:  # reward and end heads against the real game
        re_ = report["models"][name]["reward_end"]
        assert re_["random_chunks"] == 8 and np.isfinite(re_["reward_mae"])
        for part in ["reward_event", "episode_end"]:
            assert re_[part]["quiet_chunks"] <= 8 and (np.isnan(re_[part]["recall"]) or 0 <= re_[part]["recall"] <= 1)
    assert "reward_end" not in report["models"]["copy-last-frame"]
    for name, r in report["models"].items():
        for key in ["action", "action_unseen_wording", "action_new_phrasing", "action_everyday_wording"]:
            assert r[key]["accuracy"] == pytest.approx(hits_over_n(r[key])), (name, key)
        # every switch at every start, so the overall accuracy is the mean over switches
        assert r["intervention"]["n"] == report["heldout_starts"] * len(DOOM.switches)
        assert r["intervention"]["accuracy"] == pytest.approx(np.mean(list(r["intervention"]["per_switch"].values())))
        assert set(r["action_unseen_wording"]["per_action"]) == {"turn_left", "forward"}  # the user's file
        assert set(r["action_new_phrasing"]["per_action"]) == {a for a in DOOM.probe if a in DOOM.recombined_phrases}
        assert np.isfinite(r["quality"]["rollout"]["4"]["psnr"]) and "delta_psnr" in r["quality"]
    copy = report["models"]["copy-last-frame"]  # a frozen frame never shows a turn, whatever the text
    assert copy["action"]["per_action"]["turn_left"] == copy["action"]["per_action"]["turn_right"] == 0.0
    assert copy["quality"]["delta_psnr"] == 0.0
    # the shipped judge knows real Doom (16 actions: chance is far lower)
    assert report["judge"]["on_bench_real_frames"] > 0.5 and report["judge"]["accuracy"] > 0.5
    # each of the bench's switches, on real chunks: None where the held-out play never made it
    after_switch = report["judge"]["after_switch"]
    assert list(after_switch) == [f"{a}->{b}" for a, b in DOOM.switches]
    seen_switches = [v["accuracy"] for v in after_switch.values() if v]
    assert report["judge"]["after_switch_mean"] == (np.mean(seen_switches) if seen_switches else None)
    unreadable = report["judge"]["unreadable_probe"]  # probe actions the judge cannot read in real play
    for r in report["models"].values():
        readable = [r["action"]["per_action"][a] for a in DOOM.probe if a not in unreadable]
        assert r["action"]["readable_accuracy"] == pytest.approx(np.mean(readable), nan_ok=True)
    assert json.loads((out / "report.json").read_text())["models"].keys() == report["models"].keys()
    md = (out / "report.md").read_text()
    assert all(f"`{a}` ({why})" in md for a, why in unreadable.items())
    assert "| TV2TV |" in md and "| copy-last-frame |" in md and "new phrasing" in md
    assert "| turn_left->turn_right |" in md and "real play" in md and "FD long" in md and "everyday words" in md
    assert "reward corr." in md and "end recall" in md
    assert report["cache"] == "rolling" and "rolling KV cache" in md  # the envs' default, and the report says it
    assert report["frames_per_chunk"] == 4 and "16 chunks = 64 frames" in md  # long rollouts in frames, not seconds
    assert {r["info"]["cache"] for r in report["models"].values() if "info" in r and "cache" in r["info"]} == {"rolling"}
    for f in ["accuracy_per_action.png", "psnr_vs_horizon.png", "rollouts.mp4", "frechet_vs_horizon.png"]:
        assert (out / f).stat().st_size > 1000


@pytest.mark.slow
def test_guidance_sweep_scores_as_the_bench_does(doom_latent_data, tiny_run, judge, tmp_path, monkeypatch):
    """scripts/sweep_guidance.py: one row per setting, each the bench's own action and
    intervention accuracy for that guidance (recomputed here from the same starts)."""
    import runpy
    import sys

    from tv2tv_env.bench.benchmark import intervention_accuracy
    from tv2tv_env.bench.contestants import WorldContestant

    out = tmp_path / "sweep.json"
    monkeypatch.setattr(sys, "argv", ["sweep_guidance.py", "--checkpoint", str(tiny_run), "--data",
                                      str(doom_latent_data), "--judge", str(JUDGE), "--guidance", "1", "4",
                                      "--episodes", "2", "--horizon", "4", "--chunks", "2", "--out", str(out)])
    runpy.run_path(str(SHIPPED.parents[1] / "scripts" / "sweep_guidance.py"), run_name="__main__")
    rows = json.loads(out.read_text())["rows"]
    assert [(r["guidance"], r["steps"]) for r in rows] == [(1.0, 6), (4.0, 6)]

    who = WorldContestant("TV2TV", tiny_run, guidance=4.0)
    ctx = load_starts(doom_latent_data, 2, who.world.sampler.context_chunks, 4, seed=0)
    seen = {a: PHRASES[a] for a in DOOM.probe}
    act = action_accuracy(judge, who, ctx, seen, ACTION_NAMES, 2, 0)
    inter = intervention_accuracy(judge, who, ctx, list(DOOM.switches), PHRASES, ACTION_NAMES, 0)
    assert rows[1]["action"] == round(act["accuracy"], 4) and rows[1]["intervention"] == round(inter["accuracy"], 4)
    assert set(rows[1]["per_action"]) == set(DOOM.probe) and rows[1]["frames_per_s"] > 0


def test_outcome_starts_are_the_recorded_chunks_with_every_event(doom_latent_data):
    """The reward/end check's chunks: each after its real context, with the engine's real reward
    and termination, every reward event and episode end included, plus the random draw."""
    from tv2tv_env.bench.benchmark import REWARD_EVENT, load_outcome_starts
    from tv2tv_env.data.dataset import iter_episodes

    episodes = {p.name: ep for p, ep in iter_episodes(doom_latent_data, "heldout")}
    ctx, reward, term, random_draw, rates = load_outcome_starts(doom_latent_data, 2, random_chunks=5, seed=1)
    assert random_draw.sum() == 5 and len(ctx) == len(reward) == len(term)
    for b, src in enumerate(ctx.source):
        name, i = src.split(":")
        ep, i = episodes[name], int(i)
        assert reward[b] == np.float32(ep.reward[i]) and term[b] == bool(ep.terminated[i])
        assert np.array_equal(ctx.frames[b], ep.frames[i - 2:i]) and np.array_equal(ctx.next_frames[b, 0], ep.frames[i])
        assert ctx.next_texts[b] == [ep.text[i]]
    wanted = {f"{n}:{i}" for n, ep in episodes.items() for i in range(2, len(ep))
              if ep.reward[i] > REWARD_EVENT or ep.terminated[i]}
    assert wanted == {s for s, r in zip(ctx.source, random_draw) if not r}
    total = sum(len(ep) - 2 for ep in episodes.values())
    assert rates["chunks"] == total and rates["end"] == pytest.approx(
        sum(ep.terminated[2:].sum() for ep in episodes.values()) / total)


def test_event_detection_scores():
    from tv2tv_env.bench.benchmark import _detection

    real = np.array([1, 1, 0, 0, 0, 0, 1], bool)
    score = np.array([0.9, 0.2, 0.7, 0.1, 0.1, 0.3, 0.0])
    drawn = np.array([0, 0, 1, 1, 1, 1, 1], bool)  # two event chunks, four random quiet ones, one random event
    d = _detection(score, 0.5, real, drawn, rate=0.1)
    assert d["recall"] == 0.5 and d["false_alarm"] == 0.25 and d["events"] == 2 and d["quiet_chunks"] == 4
    assert d["precision_at_real_rate"] == pytest.approx(0.05 / (0.05 + 0.225))
    assert d["auroc"] == pytest.approx((4 + 2) / 8)  # 0.9 beats all four quiet chunks, 0.2 beats two
    assert d["mean_score_events"] == pytest.approx(0.55)


def test_check_heads_script_reports_the_three_ways(doom_latent_data, tiny_run, tmp_path, monkeypatch):
    """scripts/check_heads.py: the bench's reward/end section for the command, the command with
    imagined events, and the recorded text with its events, one JSON object."""
    import runpy
    import sys

    out = tmp_path / "heads.json"
    monkeypatch.setattr(sys, "argv", ["check_heads.py", "--checkpoint", str(tiny_run), "--data",
                                      str(doom_latent_data), "--random-chunks", "4", "--out", str(out)])
    runpy.run_path(str(SHIPPED.parents[1] / "scripts" / "check_heads.py"), run_name="__main__")
    r = json.loads(out.read_text())
    for way in ["command", "imagined_events", "recorded_events"]:
        assert r[way]["random_chunks"] == 4 and np.isfinite(r[way]["reward_mae"]) and r[way]["seconds"] >= 0


@pytest.mark.slow
def test_diagnose_actions_script_reads_what_the_judge_reads(doom_latent_data, tiny_run, judge, tmp_path, monkeypatch):
    """scripts/diagnose_actions.py: the real chunk's figure is the judge on the real pair, the
    one-step figure the judge on the chunk the world draws from the real context under the
    recorded wording, and every probe command's velocity figure is there per flow time."""
    import runpy
    import sys

    from tv2tv_env.bench.contestants import WorldContestant
    from tv2tv_env.commands import command_part

    out = tmp_path / "diag.json"
    monkeypatch.setattr(sys, "argv", ["diagnose_actions.py", "--checkpoint", str(tiny_run), "--judge", str(JUDGE),
                                      "--data", str(doom_latent_data), "--per-action", "3", "--per-switch", "2",
                                      "--velocity-starts", "1", "--out", str(out)])
    script = runpy.run_path(str(SHIPPED.parents[1] / "scripts" / "diagnose_actions.py"), run_name="__main__")
    report = json.loads(out.read_text())
    assert report["held"] and set(report["held"]) <= set(DOOM.probe)
    assert abs(sum(r["share"] for r in report["recorded"].values()) - 1) < 1e-3
    who = WorldContestant("TV2TV", tiny_run)
    from tv2tv_env.data.dataset import iter_episodes

    held = script["held_starts"](list(iter_episodes(doom_latent_data, "heldout")), who.world.context_chunks,
                                 ACTION_NAMES, list(DOOM.probe), 3, np.random.default_rng(0))
    a, ctx = next(iter(held.items()))
    want = ACTION_NAMES.index(a)
    real = judge.predict_actions(ctx.frames[:, -1], ctx.next_frames[:, 0]) == want
    assert report["held"][a]["real"] == pytest.approx(real.mean())
    gen = who.rollout(ctx, [[command_part(t[0])] * 3 for t in ctx.next_texts], np.full((len(ctx), 3), want), 0)
    one = judge.predict_actions(ctx.frames[:, -1], gen[:, 0]) == want
    assert report["held"][a]["one_step"] == pytest.approx(one.mean())
    assert report["held"][a]["one_step_psnr"] == pytest.approx(psnr(gen[:, 0], ctx.next_frames[:, 0]).mean(), abs=1e-3)
    still = script["motion"](ctx.next_frames[:, 0, 0], np.repeat(ctx.next_frames[:, 0, :1], 4, 1))
    assert still.shape == (len(ctx),) and not still.any()  # a picture that does not move moves 0
    moved = script["motion"](ctx.frames[:, -1, -1], gen[:, 0])
    assert report["held"][a]["motion_one_step"] == pytest.approx(moved.mean(), abs=1e-3)
    rows = report["velocity"]["per_sigma"]
    assert len(rows) == who.world.sampler.steps and set(rows[0]["pull"]) == set(DOOM.probe)
    assert all(v >= 0 for r in rows for v in r["pull"].values())
