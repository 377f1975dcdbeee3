"""The Gymnasium env, vector env and wrapper on a briefly trained `tiny` checkpoint."""
import contextlib
import warnings

import gymnasium as gym
import numpy as np
import pytest

import tv2tv_env  # noqa: F401  (registers the envs)
from tv2tv_env.commands import normalize_command
from tv2tv_env.errors import UserError
from tv2tv_env.games import CARDS, env_id, get_card

# Warnings the checkers' runs may show that say nothing about the env, each checked by hand, as
# (category, message regex): none today (a leaked /proc/cpuinfo handle was one; precision.py closes it now)
HARMLESS_WARNINGS: list = []


@contextlib.contextmanager
def warnings_fail():
    """Most of Gymnasium's (and SB3's) checks only warn: here every warning fails the test, apart
    from the HARMLESS_WARNINGS above."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for category, message in HARMLESS_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


@pytest.fixture(scope="module")
def env(tiny_run):
    e = gym.make("TV2TV/Doom-v0", checkpoint=tiny_run, render_mode="rgb_array")
    yield e
    e.close()


def test_the_issue_one_liner(tiny_run):
    e = gym.make("tv2tv_env:TV2TV/Doom-v0", checkpoint=tiny_run)
    o, i = e.reset(seed=0)
    obs = e.step("move forward")[0]
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert e.observation_space.contains(obs)


def test_gymnasium_env_checker_passes(env):
    from gymnasium.utils.env_checker import check_env

    with warnings_fail():
        check_env(env.unwrapped)


def test_warnings_fail_makes_a_checker_warning_fail():
    with pytest.raises(UserWarning, match="render_fps"), warnings_fail():
        gym.logger.warn("no render_fps in the metadata")  # how Gymnasium's checker warns


def test_sb3_checker_passes_on_discrete_commands(env):
    sb3 = pytest.importorskip("stable_baselines3.common.env_checker", reason="stable-baselines3 (extra `rl`) missing")
    from tv2tv_env import DiscreteTextActions

    with warnings_fail():
        sb3.check_env(DiscreteTextActions(env.unwrapped), warn=True)


@pytest.mark.parametrize("make", [
    lambda **kw: gym.make("TV2TV/Doom-v0", **kw),
    lambda **kw: gym.make_vec("TV2TV/Doom-v0", num_envs=2, vectorization_mode="vector_entry_point", **kw),
])
def test_an_unknown_option_is_named_with_the_known_ones(make):
    """Refused before any model loads: the misspelt name, and every option the env takes."""
    with pytest.raises(TypeError, match=r"'guidanse'.*checkpoint, game, device.*guidance.*render_mode"):
        make(guidanse=2.0)


def test_world_options_are_one_list_shared_by_the_envs(tiny_run):
    from tv2tv_env.world import WorldModel, WorldOptions

    world = WorldModel(tiny_run, precision="fp32", guidance=1.5, sampling_steps=2)
    assert world.options == WorldOptions(checkpoint=tiny_run, precision="fp32", guidance=1.5, sampling_steps=2)
    assert world.sampler.guidance == 1.5 and world.sampler.steps == 2
    env = gym.make("TV2TV/Doom-v0", checkpoint=tiny_run, precision="fp32", guidance=1.5, sampling_steps=2)
    assert env.unwrapped.world.options == world.options
    shared = gym.make("TV2TV/Doom-v0", world=world)  # one loaded model behind another env
    assert shared.unwrapped.world is world
    with pytest.raises(TypeError, match="options already"):
        gym.make("TV2TV/Doom-v0", world=world, guidance=3.0)
    with pytest.raises(UserError, match="cache='nearest'"):
        WorldOptions(cache="nearest")


def test_env_ids_and_the_render_rate_come_from_the_game_cards(env):
    for game in CARDS:
        assert gym.spec(env_id(game)).kwargs["game"] == game
        assert gym.spec(env_id(game, real=True)).entry_point == "tv2tv_env.real_env:RealGameEnv"
    assert env_id("doom") == "TV2TV/Doom-v0" and env_id("crafter", real=True) == "TV2TV/RealCrafter-v0"
    assert env_id(None) == env_id("a_recorded_cartpole") == "TV2TV/World-v0"  # no built-in card
    assert gym.spec(env_id(None)).kwargs["game"] is None
    assert env.metadata["render_fps"] == get_card("doom").render_fps == 16


def test_spaces_and_info(env):
    space = env.action_space
    assert isinstance(space, gym.spaces.Text) and space.min_length == 0 and space.max_length >= 64
    assert space.contains("") and space.contains("turn left, then shoot!")
    obs, info = env.reset(seed=3)
    assert {"text", "frames", "thought"} <= set(info) and info["frames"].shape == (4, 64, 64, 3)
    np.testing.assert_array_equal(info["frames"][-1], obs)
    obs, reward, terminated, truncated, info = env.step("Turn   LEFT ")
    assert info["text"] == "turn left" and info["thought"] is False  # normalised as the recorded text
    assert isinstance(reward, float) and 0.0 <= info["end_prob"] <= 1.0
    np.testing.assert_array_equal(info["frames"][-1], obs)
    obs, *_, info = env.step("")
    assert info["thought"] is True and isinstance(info["text"], str)  # the model wrote its own text


def test_same_seed_same_rollout_other_seed_differs(tiny_run, env):
    other = gym.make("TV2TV/Doom-v0", checkpoint=tiny_run)

    def rollout(e, seed):
        obs, info = e.reset(seed=seed, options={"start": 0})
        return np.stack([obs] + [e.step(c)[0] for c in ["turn left", "", "shoot"]])

    a, b = rollout(env, 7), rollout(other, 7)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, rollout(other, 8))
    start_a = env.reset(seed=11)[1]["start"]
    assert start_a == other.reset(seed=11)[1]["start"]


def test_prompt_and_start_options(env):
    obs, info = env.reset(seed=0, options={"start": 1, "prompt": "a fight in a dark room"})
    assert info["start"] == 1
    assert env.step("shoot")[0].shape == (64, 64, 3)
    with pytest.raises(ValueError, match="start context 9999"):
        env.reset(options={"start": 9999})


@pytest.mark.parametrize("action, error, words", [
    (3, TypeError, "DiscreteTextActions"),
    (b"turn left", TypeError, "not bytes"),
    ("turn left " * 20, ValueError, "at most"),
    ("tourne à gauche", ValueError, "outside the action charset"),
    ("向左转", ValueError, "outside the action charset"),
    ("turn left\n", ValueError, "outside the action charset"),
])
def test_bad_actions_get_clear_errors(env, action, error, words):
    env.reset(seed=0)
    with pytest.raises(error, match=words):
        env.step(action)


def test_unknown_words_are_read_not_refused(env):
    """Documented behaviour: words the model never saw are read by meaning (the nearest recorded
    wording) or, off-topic, left to the model; never refused, never an empty chunk text."""
    env.reset(seed=0)
    obs, *_, info = env.step("juggle the flamingo")
    assert obs.shape == (64, 64, 3) and info["text"] and info["read_as"] in ("nearest", "unplaced")


def test_step_before_reset(tiny_run):
    e = gym.make("TV2TV/Doom-v0", checkpoint=tiny_run, disable_env_checker=True)
    with pytest.raises(gym.error.ResetNeeded):
        e.unwrapped.step("shoot")


def test_bad_checkpoints_get_clear_errors(tiny_run, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        gym.make("TV2TV/Doom-v0", checkpoint=tmp_path / "nope")
    with pytest.raises(UserError, match="holds no model"):
        gym.make("TV2TV/Doom-v0", checkpoint=tmp_path)
    with pytest.raises(UserError, match="trained on doom"):
        gym.make("TV2TV/Crafter-v0", checkpoint=tiny_run)
    import shutil

    broken = tmp_path / "run"
    shutil.copytree(tiny_run, broken)
    (broken / "contexts.npz").unlink()
    with pytest.raises(UserError, match="tv2tv contexts"):
        gym.make("TV2TV/Doom-v0", checkpoint=broken)
    shutil.rmtree(broken / "vae")
    with pytest.raises(UserError, match="VAE"):
        gym.make("TV2TV/Doom-v0", checkpoint=broken)


@pytest.mark.parametrize("part,damage", [
    ("ckpt/model/model.safetensors", lambda b: b[:len(b) // 2]),  # a download cut short
    ("ckpt/model/config.json", lambda b: b[:-7]),  # JSON cut off
    ("vae/diffusion_pytorch_model.safetensors", lambda b: b[:100]),
    ("tokenizer/tokenizer.json", lambda b: b.replace(b'"vocab"', b'"vocabulary"', 1)),  # parses, does not build
])
def test_damaged_checkpoint_files_are_named(tiny_run, tmp_path, part, damage):
    import shutil

    broken = tmp_path / "run"
    shutil.copytree(tiny_run, broken, ignore=shutil.ignore_patterns("train_state.pt", "samples"))
    f = broken / part
    f.write_bytes(damage(f.read_bytes()))
    with pytest.raises(UserError, match=f"{f.name} is damaged.*restore it"):
        gym.make("TV2TV/Doom-v0", checkpoint=broken)


def test_render_rgb_array_has_a_caption(env):
    env.reset(seed=0)
    env.step("turn right")
    img = env.render()
    assert img.dtype == np.uint8 and img.shape[1] == 256 and img.shape[0] > 256  # 4x frame + caption


def test_render_human_opens_a_pygame_window(tiny_run):
    e = gym.make("TV2TV/Doom-v0", checkpoint=tiny_run, render_mode="human")
    e.reset(seed=0)
    e.step("shoot")
    import pygame

    assert pygame.display.get_surface().get_size() == (256, 256 + 22)
    e.close()


def test_discrete_text_actions(env):
    from tv2tv_env import DiscreteTextActions

    d = DiscreteTextActions(env, ["turn left", "shoot"])
    assert d.action_space == gym.spaces.Discrete(2)
    d.reset(seed=0)
    assert d.step(1)[-1]["text"] == "shoot"
    with pytest.raises(ValueError, match="not in Discrete"):
        d.step(2)
    with pytest.raises(ValueError, match="charset"):
        DiscreteTextActions(env, ["gehe nach vorn ü"])
    assert len(DiscreteTextActions(env).commands) >= 8  # the game's default menu


def test_normalize_command():
    assert normalize_command("  Turn\tLEFT  and   shoot ") == "turn left and shoot"


# --- vector env ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def venv(tiny_run):
    v = gym.make_vec("TV2TV/Doom-v0", num_envs=3, vectorization_mode="vector_entry_point", checkpoint=tiny_run,
                     max_episode_steps=2)
    yield v
    v.close()


def test_vector_env_matches_single_envs(venv, env):
    obs, info = venv.reset(seed=5)
    assert obs.shape == (3, 64, 64, 3) and venv.action_space.contains(("a", "b", ""))
    acts = ("turn left", "shoot", "move forward")
    vobs = venv.step(acts)[0]
    for i in range(3):
        o, _ = env.reset(seed=5 + i)
        np.testing.assert_array_equal(obs[i], o)  # same start context
        o = env.step(acts[i])[0]
        # batched math rounds differently; the generated frames still agree closely
        assert np.abs(vobs[i].astype(int) - o).mean() < 2.0


def test_vector_env_takes_a_seed_per_sub_env(venv):
    a = venv.reset(seed=5)[1]["start"]
    b = venv.reset(seed=[5, 6, 7])[1]["start"]  # what reset(seed=5) gives sub-env i: seed + i
    c = venv.reset(seed=[7, 6, 5])[1]["start"]
    assert a.tolist() == b.tolist() == c[::-1].tolist()


def test_vector_env_autoreset_next_step(venv):
    venv.reset(seed=0)
    venv.step(("shoot",) * 3)
    venv.reset(options={"reset_mask": [False, True, False]})  # sub-env 1 restarts: one step behind
    obs, rew, term, trunc, info = venv.step(("shoot",) * 3)
    assert trunc.tolist() == [True, False, True] and not term.any()
    obs, rew, term, trunc, info = venv.step(("turn left",) * 3)  # 0 and 2 restart, 1 steps
    assert trunc.tolist() == [False, True, False]
    assert rew[0] == 0 and rew[2] == 0 and info["text"][1] == "turn left"
    assert info["text"][0] != "turn left" or info["text"][2] != "turn left"  # restarted ones show context text
    ctx = venv.unwrapped.world.contexts.frames
    assert any(np.array_equal(obs[0], f[-1]) for f in ctx)  # a real context frame, not a generated one
    obs, rew, term, trunc, info = venv.step(("turn left",) * 3)  # 1 restarts
    assert any(np.array_equal(obs[1], f[-1]) for f in ctx) and not trunc.any()


def test_vector_env_terminates_from_the_end_head(tiny_run):
    v = gym.make_vec("TV2TV/Doom-v0", num_envs=2, vectorization_mode="vector_entry_point", checkpoint=tiny_run,
                     end_threshold=-1.0)  # every chunk "ends": exercises termination + autoreset
    v.reset(seed=0)
    _, _, term, trunc, _ = v.step(("shoot", ""))
    assert term.all() and not trunc.any()
    _, rew, term, _, _ = v.step(("shoot", ""))
    assert not term.any() and (rew == 0).all()
    with pytest.raises(ValueError, match="one command per sub-env"):
        v.step("shoot")


def test_vector_env_prompts_per_sub_env(venv):
    obs, _ = venv.reset(seed=0, options={"prompt": ["a dark room", None, "a fight"]})  # None: no prompt
    assert obs.shape == (3, 64, 64, 3)
    with pytest.raises(ValueError, match="outside the action charset"):
        venv.reset(seed=0, options={"prompt": ["ok", "ünicode", None]})


def test_starts_from_a_contexts_file_of_training_episodes(tiny_run, doom_latent_data, tmp_path, capsys):
    """RL in imagination wants many real starts: `tv2tv contexts --split train --out FILE`, and
    the env (and vector env) started from FILE instead of the checkpoint's own contexts."""
    from tv2tv_cli import main
    from tv2tv_env.data.contexts import load_contexts
    from tv2tv_env.data.dataset import iter_episodes

    out = tmp_path / "train_starts.npz"
    assert main(["contexts", "--data", str(doom_latent_data), "--checkpoint", str(tiny_run), "--chunks", "2",
                 "--split", "train", "--per-episode", "3", "--max-contexts", "100", "--out", str(out)]) == 0
    ctx = load_contexts(out)
    train_eps = {p.name: len(ep) for p, ep in iter_episodes(doom_latent_data, "train", frames=False)}
    assert {str(s).split(":")[0] for s in ctx.source} == set(train_eps)  # every training episode, no other
    assert len(ctx) == sum(min(3, n - 1) for n in train_eps.values())
    own = load_contexts(tiny_run / "contexts.npz")
    env = gym.make("TV2TV/Doom-v0", checkpoint=tiny_run, contexts=out, imagined_events=True)
    assert len(env.unwrapped.world.contexts) == len(ctx) != len(own)
    obs, info = env.reset(seed=0, options={"start": len(ctx) - 1})
    assert np.array_equal(obs, ctx.frames[-1][-1])
    assert env.unwrapped.world.sampler.event_openers  # ";" is one token of the shipped tokenizer
    assert env.step("shoot")[0].shape == obs.shape
    venv = gym.make_vec("TV2TV/Doom-v0", num_envs=2, vectorization_mode="vector_entry_point", checkpoint=tiny_run,
                        contexts=out)
    assert len(venv.unwrapped.world.contexts) == len(ctx)
    venv.close()


def test_vector_env_can_decode_only_the_observation(venv, tiny_run):
    """frames="last": the same observations up to rounding (the VAE decodes each frame on its own), one frame
    per sub-env in info, through steps, autoresets and partial resets; a bad value is refused."""
    last = gym.make_vec("TV2TV/Doom-v0", num_envs=3, vectorization_mode="vector_entry_point", checkpoint=tiny_run,
                        max_episode_steps=2, frames="last")
    a, _ = venv.reset(seed=7)
    b, info = last.reset(seed=7)
    np.testing.assert_array_equal(a, b)
    assert info["frames"].shape == (3, 1, 64, 64, 3)
    for acts in [("turn left", "shoot", ""), ("move forward",) * 3, ("shoot",) * 3]:  # the third autoresets
        (a, *_), (b, _, _, trunc, info) = venv.step(acts), last.step(acts)
        assert np.abs(a.astype(int) - b).max() <= 2 and info["frames"].shape == (3, 1, 64, 64, 3)
    b, info = last.reset(options={"reset_mask": [True, False, False]})
    assert info["frames"].shape == (3, 1, 64, 64, 3) and np.array_equal(info["frames"][:, -1], b)
    last.close()
    one_all, one_last = gym.make("TV2TV/Doom-v0", checkpoint=tiny_run), gym.make("TV2TV/Doom-v0", checkpoint=tiny_run,
                                                                                frames="last")
    (a, _), (b, info) = one_all.reset(seed=3), one_last.reset(seed=3)
    np.testing.assert_array_equal(a, b)
    (a, *_), (b, *_, info) = one_all.step("turn left"), one_last.step("turn left")
    assert np.abs(a.astype(int) - b).max() <= 2  # the decode's batch of 1 frame rounds unlike one of 4
    assert info["frames"].shape == (1, 64, 64, 3) and np.array_equal(info["frames"][-1], b)
    with pytest.raises(ValueError, match="frames='some'"):
        gym.make("TV2TV/Doom-v0", checkpoint=tiny_run, frames="some")
    with pytest.raises(ValueError, match="frames='some'"):
        gym.make_vec("TV2TV/Doom-v0", num_envs=2, vectorization_mode="vector_entry_point", checkpoint=tiny_run,
                     frames="some")
