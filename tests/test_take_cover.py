"""ViZDoom's take_cover as a world (issue 41): its card and engine, the real env at the scenario's
own skill, a policy that runs unchanged in the dream and in the game, episodes that end on a
death the model's text reports, and `load_agent`'s errors."""
import json

import gymnasium as gym
import numpy as np
import pytest

import tv2tv_env  # noqa: F401  (registers the envs)
from tv2tv_env.errors import UserError
from tv2tv_env.games import get_card, make_game

from conftest import SHIPPED, train_world

GAME = "doom_take_cover"


def test_take_cover_ids_are_registered_with_the_worlds_defaults():
    spec = gym.spec("TV2TV/DoomTakeCover-v0")
    assert spec.kwargs == {"game": GAME, "imagined_events": True, "end_from": "either", "guidance": 1.0}
    assert gym.spec("TV2TV/RealDoomTakeCover-v0").kwargs == {"game": GAME}


def test_real_take_cover_plays_the_scenarios_own_skill():
    """take_cover's cfg says skill 4; the default Doom mix stays at the skill it was recorded at."""
    env = gym.make("TV2TV/RealDoom-v0", scenarios=["take_cover"])
    env.reset(seed=0)
    assert env.unwrapped.source.game.get_doom_skill() == 4
    env.close()
    env = gym.make("TV2TV/RealDoomTakeCover-v0")
    env.reset(seed=0)
    assert env.unwrapped.source.game.get_doom_skill() == 4
    env.close()
    doom = make_game("doom", scenarios=["defend_the_center"])
    doom.reset(0)
    assert doom.game.get_doom_skill() == 1
    doom.close()
    with pytest.raises(UserError, match="skill"):
        make_game("doom", skill=7)


def test_a_take_cover_life_is_told_with_its_health_and_ends_in_death():
    game = make_game(GAME)
    game.reset(3)
    rng = np.random.default_rng(0)
    chunks, texts = [], []
    while not (chunks and chunks[-1].terminated):
        chunks.append(game.step_chunk(0))  # standing still: the imps hit, sooner or later
        texts.append(game.describe(chunks[-1], rng))
        assert len(chunks) < 400
    game.close()
    assert [c.reward for c in chunks] == [1.0] * (len(chunks) - 1) + [0.0]  # return = chunks survived
    assert chunks[-1].events["died"] and texts[-1].split("; ")[-1] in get_card(GAME).event_phrases["died"]
    healths = [int(t.rsplit("health ", 1)[1]) for t in texts[:-1]]
    assert healths[0] == 100 and healths == sorted(healths, reverse=True) and healths[-1] < 100
    hit = [i for i in range(1, len(healths)) if healths[i] < healths[i - 1]]
    assert hit and all(texts[i].split("; ")[1] in get_card(GAME).event_phrases["damage"] for i in hit)
    tics = [c.events["tic"] for c in chunks]
    assert tics == sorted(tics) and tics[-1] <= 8 * len(chunks) + 9


def test_the_recording_player_mixes_dodging_holds_and_stubborn_stretches():
    """The player's modes over many episodes: dodging, short holds and switches, and stretches of
    10-40 chunks of one command (pinned at a wall, standing still) that an agent will try."""
    from types import SimpleNamespace

    from tv2tv_env.games.doom_take_cover import ACTION_NAMES, TakeCoverPlayer

    game = SimpleNamespace(last_events={"blocked": False})
    runs, modes = [], set()
    for seed in range(40):
        player = TakeCoverPlayer(np.random.default_rng(seed))
        actions = []
        for _ in range(200):
            actions.append(ACTION_NAMES[player.act(game)])
            modes.add(player.mode)
        run = 1
        for a, b in zip(actions, actions[1:]):
            run = run + 1 if a == b else 1
            runs.append(run)
    assert modes == {"dodge", *TakeCoverPlayer.MODES}
    assert max(runs) >= 10 and sum(r == 1 for r in runs) > 100  # long stretches and many switches


@pytest.fixture(scope="module")
def take_cover_world(tmp_path_factory):
    """A tiny take_cover world: 3 recorded episodes, its own tokenizer, the shipped Doom VAE."""
    from tv2tv_cli import main
    from tv2tv_env.data.latents import cache_latents
    from tv2tv_env.data.record import record

    root = tmp_path_factory.mktemp("take_cover")
    record(GAME, episodes=3, max_chunks=40, out=root / "data", seed=7, heldout=0.34, progress=False)
    cache_latents(root / "data", SHIPPED / "vae", progress=False)
    assert main(["tokenizer", "--game", GAME, "--data", str(root / "data"), "--out", str(root / "tok")]) == 0
    train_world(root / "data", root / "run", config="tiny", max_steps=4, batch_size=2, eval_every=1000,
                samples=False, tokenizer=str(root / "tok"), oversample_ends=4.0)
    return root


def test_a_policy_runs_unchanged_in_the_dream_and_in_the_game(take_cover_world, tmp_path):
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 (extra `rl`) missing")
    from agents.policy import load_agent
    from tv2tv_env import DiscreteTextActions

    real = DiscreteTextActions(gym.make("TV2TV/RealDoomTakeCover-v0"))
    agent = load_agent(untrained_policy(tmp_path / "policy"), commands=real.commands)
    dream = gym.make("TV2TV/DoomTakeCover-v0", checkpoint=take_cover_world / "run", max_episode_steps=3)
    for env in (dream, real.env):  # the text env under the wrapper: the agent speaks commands
        obs, info = env.reset(seed=1)
        for _ in range(3):
            command = agent.act(obs, info)
            assert command in real.commands
            obs, reward, terminated, truncated, info = env.step(command)
            if terminated or truncated:
                break
    dream.close()
    real.close()


def test_the_world_ends_an_episode_on_a_recorded_death(take_cover_world):
    """The recorded text of a death chunk, given as the chunk's text, ends the dream's episode
    when the end comes from the text (end_from "text" or "either"), whatever the end head says."""
    from tv2tv_env.data.dataset import iter_episodes
    from tv2tv_env.world import says_died

    death = next(str(ep.text[-1]) for _, ep in iter_episodes(take_cover_world / "data", "train")
                 if bool(ep.terminated[-1]))
    assert says_died(death, GAME) and not says_died("strafe left; health 40", GAME)
    for end_from, ends in [("text", True), ("either", True)]:
        env = gym.make("TV2TV/DoomTakeCover-v0", checkpoint=take_cover_world / "run", end_from=end_from)
        env.reset(seed=0)
        _, _, terminated, _, info = env.step("strafe left")
        assert not terminated or says_died(info["text"], GAME)
        env.reset(seed=0)
        _, _, terminated, _, info = env.step(death)
        assert terminated == ends and info["end_prob"] == 1.0
        env.close()
    with pytest.raises(UserError, match="end_from"):
        gym.make("TV2TV/DoomTakeCover-v0", checkpoint=take_cover_world / "run", end_from="never")


def test_oversampled_ends_draw_windows_with_a_death_more(take_cover_world):
    from model.tokenizer import load_tokenizer
    from tv2tv_env.data.training_data import LatentWindows

    windows = LatentWindows(take_cover_world / "data", SHIPPED / "vae", load_tokenizer(take_cover_world / "tok"), 4)
    has_end = np.array([bool(windows.terminated[e][s:s + 4].any()) for e, s in windows.index])
    plain, more = windows.window_weights(0.0), windows.window_weights(0.0, ends=4.0)
    assert has_end.any() and (~has_end).any()
    assert more[has_end].sum() / plain[has_end].sum() > 2 and np.allclose(plain, 1 / len(plain))
    with pytest.raises(UserError, match="oversample-ends"):
        windows.batch_fn(2, ends=0.5)


def test_load_agent_refuses_what_is_no_policy_naming_it(tmp_path):
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 (extra `rl`) missing")
    from agents.policy import AGENT_FILE, POLICY_FILE, load_agent

    with pytest.raises(UserError, match="no policy at .*nowhere"):
        load_agent(tmp_path / "nowhere")
    with pytest.raises(UserError, match="is not a policy"):
        load_agent(SHIPPED)  # a world's checkpoint, not a policy
    good = untrained_policy(tmp_path / "good")
    agent = load_agent(good)
    assert agent.commands == ["stand still", "strafe left", "strafe right"] and not agent.deterministic
    with pytest.raises(UserError, match="trained for the commands"):
        load_agent(good, commands=["stand still", "turn left"])
    with pytest.raises(UserError, match=r"observations shaped \(64, 64, 3\), not \(96, 96, 3\)"):
        load_agent(good, observation_shape=(96, 96, 3))
    with pytest.raises(UserError, match="trained on another env"):
        agent.act(np.zeros((32, 32, 3), np.uint8), {})
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / AGENT_FILE).write_text("{not json")
    with pytest.raises(UserError, match="agent.json is damaged"):
        load_agent(bad)
    (bad / AGENT_FILE).write_text((good / AGENT_FILE).read_text())
    (bad / POLICY_FILE).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(UserError, match="policy.zip is damaged"):
        load_agent(bad)
    info = json.loads((good / AGENT_FILE).read_text())
    (bad / AGENT_FILE).write_text(json.dumps({**info, "commands": info["commands"][:2]}))
    (bad / POLICY_FILE).write_bytes((good / POLICY_FILE).read_bytes())
    with pytest.raises(UserError, match="does not match agent.json"):
        load_agent(bad)


def test_a_saved_policy_plays_the_real_game_into_a_video(tmp_path, capsys):
    """`python -m agents.policy --policy DIR --game doom_take_cover --real --video OUT`."""
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 (extra `rl`) missing")
    import agents.policy as policy

    untrained_policy(tmp_path / "policy")
    policy.main(["--policy", str(tmp_path / "policy"), "--game", GAME, "--real", "--steps", "6", "--video",
                 str(tmp_path / "real.mp4")])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["steps"] == 6 and (tmp_path / "real.mp4").stat().st_size > 1000


def untrained_policy(path):
    """A PPO policy over take_cover's commands, saved at `path` untrained: it acts, at random."""
    from stable_baselines3 import PPO

    from agents.policy import save_policy
    from tv2tv_env import DiscreteTextActions

    real = DiscreteTextActions(gym.make("TV2TV/RealDoomTakeCover-v0"))
    model = PPO("CnnPolicy", real, n_steps=8, batch_size=8, n_epochs=1, seed=0, device="cpu")
    save_policy(model, path, real.commands, real.observation_space.shape, GAME)
    real.close()
    return path


def test_dream_vs_real_starts_the_dream_from_the_real_episode(take_cover_world, tmp_path, capsys):
    """`python -m agents.dream_vs_real`: the dream starts from the real episode's first chunks
    and both play on side by side into one video."""
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 (extra `rl`) missing")
    from agents import dream_vs_real

    dream_vs_real.main(["--policy", str(untrained_policy(tmp_path / "policy")), "--game", GAME,
                        "--checkpoint", str(take_cover_world / "run"), "--seed", "1000000", "--steps", "8",
                        "--video", str(tmp_path / "both.mp4")])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["dream"]["started_after_real_chunks"] == 4
    assert 4 < report["dream"]["chunks"] <= 8 and 4 < report["real"]["chunks"] <= 8
    import imageio

    frames = imageio.mimread(tmp_path / "both.mp4", memtest=False)
    assert len(frames) == 4 * max(report["real"]["chunks"], report["dream"]["chunks"])
    first = frames[0][:200].astype(int)  # the top of the first frame, above the captions
    left, right = first[:, : first.shape[1] // 2], first[:, first.shape[1] // 2:]
    assert left.shape == right.shape and np.abs(left - right).mean() < 8  # the real start on both sides


def test_death_odds_undo_oversampled_ends_and_set_the_dreams_hardness(take_cover_world):
    """The fixture's world was trained with --oversample-ends 4: by default the world scales the
    odds of a death by 1/4, on the words it writes and on its end head; death_odds sets it."""
    import torch

    from tv2tv_env.world import WorldModel

    world = WorldModel(take_cover_world / "run", game=GAME, imagined_events=True)
    assert world.trained_end_oversampling == 4.0 and world.death_odds == 0.25
    death = world.death_tokens()
    words = {w.lstrip("Ġ") for w in world.tokenizer.convert_ids_to_tokens(death)}
    assert death and words <= {"die", "killed"}, words
    assert set(world.sampler.logit_bias) == set(death)
    texts = ["strafe left; health 100"] * 2
    assert np.allclose(world.end_probability(np.array([0.5, 0.2]), texts), [0.2, 0.05 / 0.85])
    def deaths_written(odds):
        world.set_sampling(death_odds=odds)
        world.reset([0] * 8)
        generators = [torch.Generator().manual_seed(i) for i in range(8)]
        return sum(bool(set(world.encode_text(t)) & set(death)) for _ in range(3)
                   for t in world.step(["strafe left"] * 8, generators, last_frame_only=True).texts)

    assert deaths_written(1e-12) == 0 < deaths_written(1e12)  # a dream where nobody dies; one where all do
    world.set_sampling(death_odds=1.0)
    assert world.sampler.logit_bias == {} and world.end_probability(np.array([0.5]), texts[:1])[0] == 0.5
    with pytest.raises(UserError, match="death_odds"):
        world.set_sampling(death_odds=0.0)


def test_rank_policies_scores_each_policy_in_both_worlds(take_cover_world, tmp_path):
    """scripts/rank_policies.py: every policy's survival in the game and in the dream, within
    the episode cap, with the rank correlation and a markdown table."""
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 (extra `rl`) missing")
    import runpy

    script = runpy.run_path(str(SHIPPED.parents[1] / "scripts" / "rank_policies.py"))
    sweep = script["policy"]("sweep2", np.random.default_rng(0))
    assert [sweep(t, 0) for t in range(6)] == [1, 1, 2, 2, 1, 1] and sweep(0, 1) == 2
    with pytest.raises(SystemExit, match="sweepK"):
        script["policy"]("sway", np.random.default_rng(0))
    out = tmp_path / "rank.json"
    script["main"](["--checkpoint", str(take_cover_world / "run"), "--policies", "stand", "sweep2", "--real-episodes",
                    "2", "--dream-episodes", "2", "--n-envs", "2", "--max-chunks", "6", "--out", str(out)])
    r = json.loads(out.read_text())
    assert list(r["policies"]) == ["stand", "sweep2"]
    for row in r["policies"].values():
        assert len(row["real_lengths"]) == 2 and len(row["dream_lengths"]) == 2
        assert all(1 <= n <= 6 for n in row["real_lengths"] + row["dream_lengths"])
    assert r["best_in_dream"] in r["policies"] and (r["spearman"] is None or -1 <= r["spearman"] <= 1)
    assert "| sweep2 |" in out.with_suffix(".md").read_text()
