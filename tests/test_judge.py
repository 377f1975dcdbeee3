"""The inverse-dynamics judge, trained for a few steps on a tiny real Doom recording."""
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from tv2tv_env.bench.judge import (
    JUDGE_ARGS, ChunkPairs, Judge, JudgeConfig, TRUST_THRESHOLD, action_button_table, buttons_to_action, config_for,
    fit, load_judge, load_pairs, previous_chunks, train_judge, trust_note)
from tv2tv_env.data.dataset import iter_episodes
from tv2tv_env.errors import UserError
from tv2tv_env.games import crafter, doom

TABLE = action_button_table(doom.ACTION_NAMES, doom.BUTTON_NAMES)


def steps(n, **kw):
    """The judge's training settings for a run of `n` steps (no time budget), fp32 unless said."""
    return replace(JUDGE_ARGS, max_minutes=None, max_steps=n, **{"precision": "fp32", **kw})


def hot(*names):
    return [int(b in names) for b in doom.BUTTON_NAMES]


def test_buttons_map_to_the_nearest_action_by_hamming():
    assert buttons_to_action(TABLE, TABLE).tolist() == list(range(len(doom.ACTION_NAMES)))  # every action is itself
    cases = {  # button set -> action: exact sets, then sets no action holds (ties go to the lowest id)
        (): "idle", ("forward", "shoot"): "forward+shoot",
        ("forward", "backward"): "forward",  # 1 from forward and from backward
        ("turn_left", "turn_right", "shoot"): "turn_left+shoot",
        ("forward", "turn_left", "shoot"): "forward+turn_left",
        ("strafe_left", "strafe_right"): "strafe_left",
        ("backward", "turn_left"): "backward",  # 1 from backward and turn_left; backward has the lower id
    }
    got = buttons_to_action([hot(*k) for k in cases], TABLE)
    assert [doom.ACTION_NAMES[i] for i in got] == list(cases.values())
    # probabilities: the Hamming tie between forward and backward goes to the more confident one
    p = np.zeros((2, 7))
    p[0, :2], p[1, :2] = (0.9, 0.6), (0.6, 0.9)
    assert [doom.ACTION_NAMES[i] for i in buttons_to_action(p, TABLE)] == ["forward", "backward"]


def test_trust_note():
    assert trust_note(TRUST_THRESHOLD) is None and trust_note(0.97) is None
    note = trust_note(0.5)
    assert "50.0%" in note and "85%" in note and "unreliable" in note


def test_train_save_load_round_trip(doom_data, tmp_path):
    out = tmp_path / "judge"
    report = train_judge(doom_data, out, steps(3, batch_size=8), channels=8, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "report.json"]
    assert json.loads((out / "report.json").read_text())["accuracy"] == report["accuracy"]
    assert report["train_samples"] > 0 and report["heldout_samples"] > 0 and report["training"]["steps"] == 3
    held = report["heldout"]
    assert set(held["per_button_accuracy"]) == set(doom.BUTTON_NAMES)
    assert np.array(held["confusion"]).shape == (16, 16) and np.sum(held["confusion"]) == report["heldout_samples"]
    assert sum(a["samples"] for a in held["per_action"].values()) == report["heldout_samples"]
    # the headline accuracy is the confusion matrix's diagonal, and the judge it saved is the judge measured
    assert report["accuracy"] == pytest.approx(np.trace(held["confusion"]) / report["heldout_samples"])
    changes = sum(int((e.action[1:] != e.action[:-1]).sum()) for _, e in iter_episodes(doom_data, "heldout"))
    assert held["after_change"]["samples"] == changes > 0  # chunks whose action differs from the one before
    # per switch: every recorded (previous, next) pair with a change, counted once
    switches = {}
    for _, e in iter_episodes(doom_data, "heldout"):
        for a, b in zip(e.action[:-1], e.action[1:]):
            if a != b:
                key = f"{doom.ACTION_NAMES[a]}->{doom.ACTION_NAMES[b]}"
                switches[key] = switches.get(key, 0) + 1
    per_switch = held["after_change"]["per_switch"]
    assert {k: v["samples"] for k, v in per_switch.items()} == switches
    assert held["after_change"]["accuracy"] == pytest.approx(
        sum(v["accuracy"] * v["samples"] for v in per_switch.values()) / changes)  # the switches make up the whole

    _, ep = next(iter_episodes(doom_data, "heldout"))
    prev = previous_chunks(ep.start_frame, ep.frames)
    assert prev.shape == ep.frames.shape and (prev[0] == ep.start_frame).all() and (prev[1] == ep.frames[0]).all()
    judge = load_judge(out)
    # train_judge's in-memory judge is gone; a second load must agree exactly with the first
    a, b = judge.predict_actions(prev, ep.frames), load_judge(out).predict_actions(torch.from_numpy(prev), ep.frames)
    assert a.dtype == np.int64 and a.shape == (len(ep),) and np.array_equal(a, b)
    assert a.min() >= 0 and a.max() < len(doom.ACTION_NAMES)
    buttons = judge.predict_buttons(prev, ep.frames)
    assert buttons.dtype == np.uint8 and buttons.shape == (len(ep), 7)
    assert torch.equal(judge.logits(prev, ep.frames), load_judge(out).logits(prev, ep.frames))
    with pytest.raises(ValueError, match="expected two"):
        judge.predict_actions(prev[:, :2], ep.frames[:, :2])


def test_scores_on_a_known_confusion():
    """Six chunks of three actions, judged by hand: accuracy, per-action recall, confusion, and the
    chunks after a change of action (the intervention's ceiling), overall and per switch."""
    from tv2tv_env.bench.judge import _score

    cfg = JudgeConfig("doom", ["idle", "forward", "turn_left"], channels=8)
    true = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 0, 2])
    previous = np.array([-1, 0, 0, 1, 1, 2])  # changes at chunks 2 (idle->forward) and 4 (forward->turn_left)
    s = _score(cfg, true, pred, previous=previous)
    assert s["accuracy"] == pytest.approx(4 / 6) and s["samples"] == 6
    assert s["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert {k: v["accuracy"] for k, v in s["per_action"].items()} == {"idle": 0.5, "forward": 1.0, "turn_left": 0.5}
    assert s["after_change"] == {"samples": 2, "accuracy": 0.5, "per_switch": {
        "idle->forward": {"samples": 1, "accuracy": 1.0}, "forward->turn_left": {"samples": 1, "accuracy": 0.0}}}
    assert "66.7%" in s["trust_note"]  # below the trust threshold: said next to every score
    absent = _score(cfg, np.array([0, 0]), np.array([0, 2]))
    assert absent["per_action"]["forward"] == {"samples": 0, "accuracy": None} and "after_change" not in absent


def test_overfits_a_handful_of_real_chunks(doom_data):
    torch.manual_seed(0)
    pairs = load_pairs(doom_data, "train").subset(np.arange(16))
    judge = Judge(config_for(doom_data, channels=16))
    r = fit(judge, pairs, steps(400, batch_size=16, lr=3e-3), progress=False, augment=False)  # memorising, not generalising
    assert r["loss_end"] < 0.2 * r["loss_start"], r
    rows = pairs.rows
    pred = judge.predict_actions(pairs.chunks[rows - 1], pairs.chunks[rows])
    assert (pred == pairs.actions).mean() > 0.9


def test_crafter_judge_predicts_action_ids():
    cfg = JudgeConfig("crafter", list(crafter.ACTION_NAMES), channels=8)
    judge = Judge(cfg)
    assert cfg.n_outputs == 17 and not cfg.multi_label
    rng = np.random.default_rng(0)
    chunks = rng.integers(0, 256, (5, 4, 64, 64, 3), dtype=np.uint8)
    actions = np.array([3, 5, 7, 9], np.int64)
    r = fit(judge, ChunkPairs(chunks, np.arange(1, 5), actions, actions), steps(2, batch_size=4), progress=False)
    assert r["steps"] == 2 and np.isfinite(r["loss_end"])
    pred = judge.predict_actions(chunks[:4], chunks[1:])
    assert pred.shape == (4,) and pred.dtype == np.int64 and pred.max() < 17
    with pytest.raises(ValueError, match="action ids"):
        judge.predict_buttons(chunks[:4], chunks[1:])


def test_missing_or_incomplete_judge_dir_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no judge at .*does not exist"):
        load_judge(tmp_path / "nope")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(UserError, match="lacks model.safetensors"):
        load_judge(tmp_path / "half")


def test_mirroring_swaps_left_and_right_labels():
    import torch

    from tv2tv_env.bench.judge import mirror
    from tv2tv_env.games.mirror import mirror_permutation
    from tv2tv_env.games.doom import BUTTON_NAMES

    perm = mirror_permutation(BUTTON_NAMES)
    x = torch.randint(0, 255, (2, 8, 4, 6, 3), dtype=torch.uint8)
    turn_left_shoot = [0, 0, 1, 0, 0, 0, 1]
    y = torch.tensor([turn_left_shoot, [1, 0, 0, 0, 0, 0, 0]], dtype=torch.float32)
    x2, y2 = mirror(x, y, perm, np.array([0]))
    assert y2[0].tolist() == [0, 0, 0, 1, 0, 0, 1] and y2[1].tolist() == y[1].tolist()  # turn right + shoot
    assert torch.equal(x2[0], x[0].flip(-2)) and torch.equal(x2[1], x[1])
    ids = torch.tensor([1, 3])  # action ids: a single-label game swaps ids
    names = ["noop", "move_left", "move_right", "do"]
    _, ids2 = mirror(x, ids, mirror_permutation(names), np.array([0, 1]))
    assert ids2.tolist() == [2, 3]


def test_mirror_average_reads_a_mirrored_pair_as_the_mirrored_action():
    """With mirror_average the judge is left-right equivariant by construction: the logits of a
    mirrored pair are the pair's logits with left and right swapped. A plain judge is not."""
    from tv2tv_env.games.mirror import mirror_permutation

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    prev, cur = (rng.integers(0, 256, (3, 4, 64, 64, 3), dtype=np.uint8) for _ in range(2))
    flip = lambda a: np.ascontiguousarray(a[:, :, :, ::-1])  # noqa: E731  (B, F, H, W, 3): W is axis 3
    perm = mirror_permutation(doom.BUTTON_NAMES)
    plain = Judge(JudgeConfig("doom", doom.ACTION_NAMES, doom.BUTTON_NAMES, channels=8))
    averaged = Judge(JudgeConfig("doom", doom.ACTION_NAMES, doom.BUTTON_NAMES, channels=8, mirror_average=True))
    averaged.load_state_dict(plain.state_dict())
    z, z_flipped = averaged.logits(prev, cur), averaged.logits(flip(prev), flip(cur))
    torch.testing.assert_close(z_flipped, z[:, perm], atol=1e-5, rtol=1e-5)
    # the average of the plain judge's two readings, nothing else
    torch.testing.assert_close(z, (plain.logits(prev, cur) + plain.logits(flip(prev), flip(cur))[:, perm]) / 2)
    assert not torch.allclose(plain.logits(flip(prev), flip(cur)), plain.logits(prev, cur)[:, perm], atol=1e-3)


def test_judge_trained_on_one_recording_is_measured_on_another(doom_data, doom_latent_data, crafter_data, tmp_path):
    report = train_judge(doom_data, tmp_path / "j", steps(2, batch_size=8), channels=8, progress=False,
                         eval_data=doom_latent_data)
    other = [len(ep) for _, ep in iter_episodes(doom_latent_data, "heldout")]
    assert report["eval_data"] == str(doom_latent_data) and report["heldout_samples"] == sum(other) > 0
    assert load_judge(tmp_path / "j").cfg.mirror_average  # the default for new judges
    with pytest.raises(UserError, match="train a judge on this data"):  # before any training
        train_judge(doom_data, tmp_path / "k", steps(2), channels=8, progress=False, eval_data=crafter_data)
    assert not (tmp_path / "k").exists()


class _StopAfter(ChunkPairs):
    """Real chunk pairs whose batch() raises after `calls` batches: a run killed mid-training."""

    def __init__(self, pairs: ChunkPairs, calls: int):
        super().__init__(pairs.chunks, pairs.rows, pairs.targets, pairs.actions, pairs.episodes)
        self.calls = calls

    def batch(self, idx):
        if self.calls == 0:
            raise KeyboardInterrupt("killed")
        self.calls -= 1
        return super().batch(idx)


def test_a_stopped_judge_run_resumes_exactly(doom_data, tmp_path):
    pairs = load_pairs(doom_data, "train")
    cfg = config_for(doom_data, channels=8)
    args = steps(6, batch_size=8, save_every_minutes=0)  # a checkpoint after every step
    torch.manual_seed(0)
    whole = Judge(cfg)
    start = {k: v.clone() for k, v in whole.state_dict().items()}
    fit(whole, pairs, args, checkpoint=tmp_path / "whole", progress=False)

    stopped = Judge(cfg)
    stopped.load_state_dict(start)
    with pytest.raises(KeyboardInterrupt):
        fit(stopped, _StopAfter(pairs, 4), args, checkpoint=tmp_path / "run", progress=False)
    assert torch.load(tmp_path / "run" / "train_state.pt", weights_only=False)["step"] == 4
    resumed = Judge(cfg)  # a new process: fresh weights, everything comes from the checkpoint
    r = fit(resumed, pairs, args, checkpoint=tmp_path / "run", resume=True, progress=False)
    assert r["steps"] == 6
    for k, v in whole.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v, rtol=0, atol=0, msg=k)
    assert not torch.equal(whole.state_dict()["head.weight"], start["head.weight"])  # it did train


def test_train_judge_refuses_to_overwrite_a_stopped_run(doom_data, tmp_path):
    out = tmp_path / "judge"
    with pytest.raises(UserError, match="nothing to resume"):
        train_judge(doom_data, out, steps(2), channels=8, progress=False, resume=True)
    out.mkdir()
    (out / "train_state.pt").write_bytes(b"")
    with pytest.raises(UserError, match="pass --resume"):
        train_judge(doom_data, out, steps(2), channels=8, progress=False)
    with pytest.raises(UserError, match="damaged"):  # a truncated state is named, not a raw torch error
        train_judge(doom_data, out, steps(2), channels=8, progress=False, resume=True)
    (out / "train_state.pt").unlink()
    train_judge(doom_data, out, steps(2, batch_size=8), channels=8, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "report.json"]
