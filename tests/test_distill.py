"""Sampler distillation (model/distill.py, `tv2tv distill`): the teacher's chunk is the env's,
the student learns through its Euler steps, and a run saves, resumes and plays."""
import json
import shutil

import pytest
import torch

from model.config import get_config
from model.distill import distill_loss, teacher_chunk
from model.mot import TV2TVModel
from model.sampler import StreamingSampler

SPECIAL = {"pad": 0, "bos": 1, "bof": 2, "eof": 3}


def tiny_model(seed=0):
    torch.manual_seed(seed)
    m = TV2TVModel(get_config("tiny", vocab_size=40)).eval()
    with torch.no_grad():  # adaLN-Zero starts as the identity; perturb it so the test is not trivial
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return m


def example(cfg, B=2):
    g = torch.Generator().manual_seed(1)
    lat = torch.randn(B, 3, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size, generator=g)
    return {"context_latents": lat, "context_texts": [[[5], [6, 7], [8]], [[9], [], [10, 11]]][:B],
            "texts": [[12, 13], [14]][:B], "commands": None,
            "noise": torch.randn(B, cfg.tokens_per_chunk, cfg.patch_dim, generator=g)}


def test_teacher_chunk_is_what_the_sampler_draws():
    model = tiny_model()
    cfg = model.config
    ex = example(cfg)
    s = StreamingSampler(model, SPECIAL, steps=3, guidance=2.5, context_chunks=3)
    s.reset(ex["context_latents"], ex["context_texts"])
    gens = [torch.Generator().manual_seed(b) for b in range(2)]
    drawn = s.step(ex["texts"], gens).latents
    noise = torch.stack([torch.randn(cfg.tokens_per_chunk, cfg.patch_dim, generator=torch.Generator().manual_seed(b))
                         for b in range(2)])
    x, states = teacher_chunk(s, **{**ex, "noise": noise})
    from model.flow import unpatchify

    lat = unpatchify(x[:, None], cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.patch)[:, 0]
    assert torch.allclose(lat, drawn, atol=1e-5)
    assert len(states) == cfg.n_layers + 1 and states[0].shape[0] == 2  # the conditional rows only


def test_the_student_learns_through_its_steps():
    """A few updates on one batch bring a one-step student (here started from other weights, so
    that it starts far off) closer to the teacher's guided three-step chunk: the gradient
    reaches the student through its Euler steps, and only the student."""
    teacher = tiny_model()
    s = StreamingSampler(teacher, SPECIAL, steps=3, guidance=2.5, context_chunks=3)
    student = tiny_model(seed=1).train()
    opt = torch.optim.Adam(student.parameters(), lr=1e-3)
    ex = example(teacher.config)
    losses = []
    for _ in range(25):
        loss = distill_loss(s, student, **ex, student_steps=1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in teacher.parameters())
    # the teacher's text tower is never used for the student's noisy tokens
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in student.blocks[0].t_mlp.parameters())


def test_distill_run_saves_resumes_and_plays(tiny_run, doom_latent_data, tmp_path):
    from conftest import distill
    from tv2tv_env.errors import UserError
    from tv2tv_env.world import WorldModel

    out = tmp_path / "distill"
    info = distill(tiny_run, doom_latent_data, out, max_steps=4, batch_size=2, eval_every=2)
    assert info["step"] == 4 and info["finished"]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    first = rows[0]
    assert first["step"] == 0 and first["teacher_few_steps_loss"] > 0 and first["heldout_loss"] > 0
    assert [r["step"] for r in rows if "heldout_loss" in r] == [0, 2, 4]
    with pytest.raises(UserError, match="--resume"):
        distill(tiny_run, doom_latent_data, out, max_steps=4)
    info = distill(tiny_run, doom_latent_data, out, max_steps=6, batch_size=2, eval_every=2, resume=True)
    assert info["step"] == 6
    student_cfg = json.loads((out / "student" / "config.json").read_text())
    assert student_cfg["sampling_steps"] == 1 and student_cfg["guidance"] == 1.0
    # the env plays with it: one Euler step, no guidance branch
    world = WorldModel(tiny_run, precision="fp32", distilled=out / "student")
    assert world.describe()["distilled_steps"] == 1
    world.reset([0])
    calls = []
    real = world.sampler.student.forward
    world.sampler.student.forward = lambda *a, **k: calls.append(a[0].shape[0]) or real(*a, **k)
    world.sampler.step([world.encode_text("turn left")], [torch.Generator().manual_seed(0)])
    assert calls == [1]  # one step, one row: no unconditional branch
    with pytest.raises(UserError, match="tv2tv distill"):
        WorldModel(tiny_run, precision="fp32", distilled=tmp_path / "nothing")
    broken = tmp_path / "broken"
    shutil.copytree(out / "student", broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(UserError, match="model.safetensors is damaged"):
        WorldModel(tiny_run, precision="fp32", distilled=broken)
