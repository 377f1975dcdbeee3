"""The action reader (inverse dynamics on latents) and the action-consistency loss it gives
world-model training: the predicted clean chunks are the right ones, the reader trains and loads
frozen, its loss reaches the world model's weights, and a run keeps and resumes with its copy."""
import json
from dataclasses import replace

import pytest
import torch

from conftest import SHIPPED, train_world
from model.action_reader import ActionReader
from model.config import get_config
from model.flow import action_consistency, patchify, predicted_clean_chunks, scatter_video, training_loss
from model.mot import TV2TVModel
from model.sequence import build_layout
from model.tokenizer import load_tokenizer, special_ids
from tv2tv_env.errors import UserError
from tv2tv_env.training.action_reader import ActionReaderTask, load_action_reader, train_action_reader
from tv2tv_env.training.args import ACTION_READER_ARGS

TOK = SHIPPED / "tokenizer"


def _tiny(**kw):
    tok = load_tokenizer(TOK)
    return get_config("tiny", vocab_size=len(tok), **kw), special_ids(tok)


def _window(cfg, special, B: int, gen):
    """Random latents (B, K, F, C, h, w) of one window and its layout, every chunk with text."""
    K, f = cfg.window_chunks, cfg.first_target_chunk
    latents = torch.randn(B, K, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size,
                          generator=gen)
    texts = [[[5 + k, 6] for k in range(K)] for _ in range(B)]
    return latents, build_layout(texts, cfg.tokens_per_chunk, special, [[k >= f for k in range(K)] for _ in range(B)])


def test_predicted_clean_chunks_are_the_targets_under_the_true_velocity():
    cfg, special = _tiny()
    B, K, f = 3, cfg.window_chunks, cfg.first_target_chunk
    gen = torch.Generator().manual_seed(0)
    latents, lay = _window(cfg, special, B, gen)
    x0 = patchify(latents, cfg.patch)
    t = torch.rand(B, K, generator=gen)
    noise = torch.randn(x0.shape, generator=gen)
    x_t = t[..., None, None] * noise + (1 - t[..., None, None]) * x0
    pred = predicted_clean_chunks(cfg, lay, scatter_video(lay, noise - x0), x_t, t)
    assert pred.shape == latents[:, f:].shape
    torch.testing.assert_close(pred, latents[:, f:], atol=1e-5, rtol=1e-5)
    # a velocity off by one chunk's tokens would land elsewhere: the order is checked, not only the shape
    wrong = predicted_clean_chunks(cfg, lay, scatter_video(lay, (noise - x0).roll(1, 1)), x_t, t)
    assert not torch.allclose(wrong, latents[:, f:], atol=1e-3)


def test_action_loss_reaches_the_world_model_and_not_the_reader():
    cfg, special = _tiny(loss_action=0.5)
    B, K = 2, cfg.window_chunks
    model = TV2TVModel(cfg)
    reader = ActionReader(n_actions=16, frames=cfg.frames_per_chunk, latent_channels=cfg.latent_channels,
                          latent_size=cfg.latent_size).requires_grad_(False)
    latents = torch.randn(B, K, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    texts = [[[5, 6] for _ in range(K)] for _ in range(B)]
    actions = torch.randint(16, (B, K))
    args = (model, latents, texts, torch.zeros(B, K), torch.zeros(B, K), special)
    loss, parts = training_loss(*args, gen=torch.Generator().manual_seed(1), action_reader=reader, actions=actions)
    plain, plain_parts = training_loss(*args, gen=torch.Generator().manual_seed(1))
    assert parts["loss_action"] > 0 and "loss_action" not in plain_parts
    assert loss.item() == pytest.approx(plain.item() + 0.5 * parts["loss_action"], rel=1e-4)
    (loss - plain).backward()  # the action term alone
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert all(p.grad is None for p in reader.parameters())


def test_action_loss_weights_each_chunk_by_one_minus_t_to_the_power():
    cfg, special = _tiny()
    B, K, f = 4, cfg.window_chunks, cfg.first_target_chunk
    gen = torch.Generator().manual_seed(2)
    latents, lay = _window(cfg, special, B, gen)
    t = torch.rand(B, K, generator=gen)
    x_t = patchify(latents, cfg.patch)
    velocity = torch.randn(scatter_video(lay, x_t).shape, generator=gen)
    reader = ActionReader(n_actions=5, frames=cfg.frames_per_chunk, latent_channels=cfg.latent_channels,
                          latent_size=cfg.latent_size).requires_grad_(False)
    actions = torch.randint(5, (B, K), generator=gen)
    pred = predicted_clean_chunks(cfg, lay, velocity, x_t, t)
    ce = torch.nn.functional.cross_entropy(reader(latents[:, f - 1:-1].flatten(0, 1), pred.flatten(0, 1)),
                                           actions[:, f:].flatten(), reduction="none")
    for power in (1.0, 2.0):
        got = action_consistency(replace(cfg, loss_action_power=power), lay, velocity, x_t, t, latents, actions,
                                 reader)
        torch.testing.assert_close(got, ((1 - t[:, f:].flatten()) ** power * ce).mean())
    assert not torch.isclose(action_consistency(cfg, lay, velocity, x_t, t, latents, actions, reader),
                             action_consistency(replace(cfg, loss_action_power=2.0), lay, velocity, x_t, t, latents,
                                                actions, reader))


def test_reader_task_adds_input_noise_only_when_asked():
    pairs = torch.randn(20, 2, 4, 8, 8, 8)
    actions = torch.arange(20) % 4
    reader = ActionReader(n_actions=4, width=16)
    seen = []
    reader.register_forward_hook(lambda m, inp, out: seen.append(inp[1].clone()))
    for noise in (0.0, 0.5):
        task = ActionReaderTask(reader, pairs, actions, (pairs, actions), ["a", "b", "c", "d"], batch_size=6,
                                input_noise=noise)
        task.device = "cpu"
        task.loss(reader, 0, torch.Generator().manual_seed(3), slice(None))
    idx = torch.multinomial(task.draw_weights, 6, replacement=True, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(seen[0], pairs[idx, 1])  # clean: the recorded pairs themselves
    assert not torch.allclose(seen[1], pairs[idx, 1], atol=1e-3)  # noisy: the same pairs, moved
    assert (seen[1] - pairs[idx, 1]).std() < 0.5


@pytest.mark.slow
def test_reader_trains_loads_frozen_and_a_run_keeps_its_copy(doom_latent_data, tmp_path):
    out = tmp_path / "reader"
    summary = train_action_reader(doom_latent_data, out, SHIPPED / "vae", TOK,
                                  replace(ACTION_READER_ARGS, max_steps=30, max_minutes=None, eval_every=0),
                                  width=32, input_noise=0.3, progress=False)
    assert summary["step"] == 30 and 0 <= summary["heldout_accuracy"] <= 1 and summary["input_noise"] == 0.3
    assert set(summary["heldout_per_action"]) and json.loads((out / "training.json").read_text())["step"] == 30
    reader = load_action_reader(out)
    assert not any(p.requires_grad for p in reader.parameters()) and reader.config.width == 32
    with pytest.raises(UserError, match="action reader"):
        load_action_reader(tmp_path / "none")

    run = tmp_path / "run"
    with pytest.raises(UserError, match="go together"):  # a weight without a reader, or a reader without one
        train_world(doom_latent_data, run, config="tiny", max_steps=2, batch_size=4, samples=False,
                    overrides={"loss_action": 0.1})
    with pytest.raises(UserError, match="shapes the action loss"):
        train_world(doom_latent_data, run, config="tiny", max_steps=2, batch_size=4, samples=False,
                    overrides={"loss_action_power": 2.0})
    res = train_world(doom_latent_data, run, config="tiny", max_steps=4, batch_size=4, eval_every=2, log_every=1,
                      samples=False,
                      action_reader=str(out), overrides={"loss_action": 0.1})
    assert res["step"] == 4 and (run / "action_reader" / "config.json").is_file()
    metrics = [json.loads(line) for line in open(run / "metrics.jsonl")]
    assert any("loss_action" in m for m in metrics) and any("heldout_loss_action" in m for m in metrics)
    # a resume reads the run's own copy, and refuses another reader
    res = train_world(doom_latent_data, run, resume=True, config="tiny", max_steps=6, batch_size=4, eval_every=2,
                      samples=False, overrides={"loss_action": 0.1})
    assert res["step"] == 6
    with pytest.raises(UserError, match="same --loss-action"):
        train_world(doom_latent_data, run, resume=True, config="tiny", max_steps=8, batch_size=4, samples=False)
    with pytest.raises(UserError, match="own copy"):
        train_world(doom_latent_data, run, resume=True, config="tiny", max_steps=8, batch_size=4, samples=False,
                    action_reader=str(out), overrides={"loss_action": 0.1})
