"""Training: the loss falls, a killed run resumes exactly, DDP equals one process,
and a tiny model overfits a real clip far past copy-last-frame."""
import json
import os
import signal
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from model.config import get_config
from model.tokenizer import load_tokenizer, special_ids

from conftest import SHIPPED, train_world
from tv2tv_env.errors import UserError
from tv2tv_env.training.args import TrainArgs
from tv2tv_env.training.loop import lr_at
from tv2tv_env.training.world_model import run_checkpoint
from tv2tv_env.training.world_model import train_world_model as train

TOK = SHIPPED / "tokenizer"
VAE = SHIPPED / "vae"


def read_metrics(run):
    return [json.loads(line) for line in open(run / "metrics.jsonl")]


@pytest.mark.slow
def test_cli_train_tiny_loss_falls(doom_latent_data, tmp_path):
    run = tmp_path / "run"
    res = train_world(doom_latent_data, run, config="tiny", max_steps=120, batch_size=8, eval_every=60)
    assert res["step"] == 120 and (run / "ckpt" / "model" / "model.safetensors").exists()
    losses = [m["loss"] for m in read_metrics(run) if "loss" in m and "step" in m]
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3
    assert any(k == "heldout_loss_flow" for m in read_metrics(run) for k in m)
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_000060.png", "step_000120.png"]
    assert (run / "vae" / "config.json").exists() and (run / "tokenizer" / "tokenizer.json").exists()
    with pytest.raises(UserError, match="--resume"):  # an existing run is never overwritten by accident
        train_world(doom_latent_data, run, config="tiny", max_steps=10)
    # the run says how its windows were drawn, and a resume that would draw them otherwise is refused
    assert json.loads((run / "sampling.json").read_text()) == {"balance_actions": 0.0, "mirror": 0.0,
                                                                   "oversample_ends": 1.0}
    with pytest.raises(UserError, match="--balance-actions 0.0"):
        train_world(doom_latent_data, run, config="tiny", max_steps=10, resume=True, balance_actions=1.0)


def _setup(doom_latent_data, **cfg_kw):
    from tv2tv_env.data.training_data import LatentWindows

    tok = load_tokenizer(TOK)
    cfg = get_config("tiny", vocab_size=len(tok), **cfg_kw)
    data = LatentWindows(doom_latent_data, VAE, tok, cfg.window_chunks, "train")
    return cfg, data, special_ids(tok)


def test_killed_run_resumes_exactly(doom_latent_data, tmp_path):
    cfg, data, special = _setup(doom_latent_data)
    # fp32: bf16 kernels on some CPUs are not bitwise repeatable, which would hide what we test
    args = TrainArgs(max_steps=16, batch_size=4, log_every=1, warmup_steps=4, save_every_minutes=1e9, precision="fp32")
    fn = data.batch_fn(4, seed=3)
    train(cfg, fn, tmp_path / "a", special, args, progress=False)

    def kill_at_7(step):
        if step == 7:
            os.kill(os.getpid(), signal.SIGTERM)  # a real signal: the loop saves and exits

    res = train(cfg, fn, tmp_path / "b", special, args, on_step=kill_at_7, progress=False)
    assert res["stopped_by_signal"] and res["step"] == 7
    assert run_checkpoint(tmp_path / "b") is not None
    train(cfg, fn, tmp_path / "b", special, args, resume=True, progress=False)
    la = {m["step"]: m["loss"] for m in read_metrics(tmp_path / "a") if "loss" in m}
    lb = {m["step"]: m["loss"] for m in read_metrics(tmp_path / "b") if "loss" in m}
    assert sorted(la) == sorted(lb) == list(range(1, 17))
    for s in la:
        assert la[s] == pytest.approx(lb[s], rel=1e-5, abs=1e-6), s
    sa = torch.load(tmp_path / "a" / "ckpt" / "train_state.pt", weights_only=False)["model"]
    sb = torch.load(tmp_path / "b" / "ckpt" / "train_state.pt", weights_only=False)["model"]
    for k in sa:
        assert torch.allclose(sa[k], sb[k], atol=1e-6), k


def _synthetic_batch_fn(cfg):
    def fn(step):
        g = torch.Generator().manual_seed(step)
        B, K = 4, cfg.window_chunks
        lat = torch.randn(B, K, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size, generator=g)
        texts = [[[5 + (b + k) % 7, 9, 11] for k in range(K)] for b in range(B)]  # equal lengths
        return {"latents": lat, "texts": texts, "reward": torch.zeros(B, K), "terminated": torch.zeros(B, K)}
    return fn


def _ddp_worker(rank, world, init_file, run, cfg_dict, special):
    import torch.distributed as dist

    from model.config import TV2TVConfig
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    cfg = TV2TVConfig(**cfg_dict)
    train(cfg, _synthetic_batch_fn(cfg), run, special, TrainArgs(max_steps=2, batch_size=4, warmup_steps=1,
                                                                  device="cpu", precision="fp32"), progress=False)
    dist.destroy_process_group()


def test_a_run_continues_from_exported_weights_alone(doom_latent_data, tmp_path):
    """Across machines only the exported fp16 weights survive (no optimizer): `init_from`
    starts from exactly them at their step, with a fresh warm-up."""
    import subprocess
    import sys

    from safetensors.torch import load_file

    cfg, data, special = _setup(doom_latent_data)
    args = TrainArgs(max_steps=16, batch_size=4, log_every=1, warmup_steps=4, save_every_minutes=1e9, precision="fp32")
    fn = data.batch_fn(4, seed=3)
    train(cfg, fn, tmp_path / "a", special, replace(args, max_steps=8), progress=False)
    export = tmp_path / "export"
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "tv2tv_cli", "export-weights", str(tmp_path / "a"), str(export)], cwd=root,
                   check=True, capture_output=True)
    progress = json.loads((export / "train_progress.json").read_text())
    assert progress["step"] == 8 and progress["finished"] and progress["conditioning"] == "text"
    shipped = load_file(export / "model.safetensors")

    train(cfg, fn, tmp_path / "b", special, replace(args, max_steps=8), progress=False, init_from=export)
    state = torch.load(tmp_path / "b" / "ckpt" / "train_state.pt", weights_only=False)
    assert state["step"] == 8 and state["warm_from"] == 8  # nothing left to do: the weights are the exported ones
    for k, v in shipped.items():
        assert torch.equal(state["model"][k], v.float()) and torch.equal(state["ema"][k], v.float()), k

    train(cfg, fn, tmp_path / "c", special, args, progress=False, init_from=export)
    logged = [m for m in read_metrics(tmp_path / "c") if "loss" in m]
    assert [m["step"] for m in logged] == list(range(9, 17))
    warmup = max(1, min(args.warmup_steps, args.max_steps // 10))  # a warm-up is at most a tenth of the run
    assert logged[0]["lr"] == pytest.approx(args.lr * 0.55 / warmup)  # warm-up again, mid-cosine
    assert logged[0]["loss"] < read_metrics(tmp_path / "a")[1]["loss"]  # not a fresh model

    # a deeper config with conv blocks around the video tower may start from them: the same model at first
    grown = replace(cfg, n_layers=cfg.n_layers + 1, video_conv=8)
    train(grown, fn, tmp_path / "i", special, replace(args, max_steps=8), progress=False, init_from=export)
    state = torch.load(tmp_path / "i" / "ckpt" / "train_state.pt", weights_only=False)["model"]
    assert not state["conv_out.net.2.weight"].any() and not state[f"blocks.{cfg.n_layers}.t_proj.weight"].any()
    assert torch.equal(state["blocks.0.t_qkv.weight"], shipped["blocks.0.t_qkv.weight"].float())
    other = replace(cfg, n_layers=cfg.n_layers - 1)  # shallower may not
    with pytest.raises(UserError, match=r"another config \(n_layers"):
        train(other, fn, tmp_path / "d", special, args, progress=False, init_from=export)
    # a field that only shapes the objective (the clean-copy flip) may change on the way; a resume may not
    flipped = replace(cfg, clean_flip=0.2)
    train(flipped, fn, tmp_path / "h", special, replace(args, max_steps=9), progress=False, init_from=export)
    assert json.loads((tmp_path / "h" / "config.json").read_text())["clean_flip"] == 0.2
    with pytest.raises(UserError, match=r"clean_flip 0.2 -> 0.0"):
        train(cfg, fn, tmp_path / "h", special, args, progress=False, resume=True)
    with pytest.raises(UserError, match="export-weights"):
        train(cfg, fn, tmp_path / "e", special, args, progress=False, init_from=tmp_path)

    # weights without a language prior may start a run that adds one: the same model, plus a zero projection
    with_prior = replace(cfg, command_dim=384, text_hide=0.2, paraphrase=0.2)
    train(with_prior, fn, tmp_path / "f", special, replace(args, max_steps=8), progress=False, init_from=export)
    state = torch.load(tmp_path / "f" / "ckpt" / "train_state.pt", weights_only=False)
    assert not state["model"]["command_proj.weight"].any()
    for k, v in shipped.items():
        assert torch.equal(state["model"][k], v.float()), k
    with pytest.raises(UserError, match="another config"):  # but nothing else may change on the way
        train(replace(with_prior, d_model=cfg.d_model * 2), fn, tmp_path / "g", special, args, progress=False,
              init_from=export)

def test_two_process_gloo_ddp_equals_one_process(tmp_path):
    from dataclasses import asdict

    import torch.multiprocessing as mp
    special = {"pad": 0, "bos": 1, "bof": 2, "eof": 3}
    cfg = get_config("tiny", vocab_size=40, text_dropout=0.0)
    train(cfg, _synthetic_batch_fn(cfg), tmp_path / "one", special,
          TrainArgs(max_steps=2, batch_size=4, warmup_steps=1, device="cpu", precision="fp32"), progress=False)
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / "init"), tmp_path / "two", asdict(cfg), special), nprocs=2)
    one = torch.load(tmp_path / "one" / "ckpt" / "train_state.pt", weights_only=False)["model"]
    two = torch.load(tmp_path / "two" / "ckpt" / "train_state.pt", weights_only=False)["model"]
    # Two Adam steps of ~1e-3 each; gradient sums in another order differ by float rounding,
    # which Adam's normalisation can lift to a few 1e-6 on near-zero gradients.
    assert one.keys() == two.keys()
    for k in one:
        assert torch.allclose(one[k], two[k], atol=2e-5), (k, (one[k] - two[k]).abs().max())


@pytest.mark.slow
def test_tiny_model_overfits_a_real_clip(doom_latent_data, tmp_path):
    """Teacher-forced: given the real context and text, the sampled chunk matches the real one."""
    from diffusers import AutoencoderKL

    from model.mot import TV2TVModel
    from model.sampler import StreamingSampler
    from model.vae import decode, psnr

    overfit_dir = tmp_path / "overfit"
    cfg, data, special = _setup(doom_latent_data, text_dropout=0.1)
    # the window whose last chunk changes most from the frame before it: copy-last-frame is poor there
    best, clip = -1, None
    for i in range(len(data)):
        b = data.get([i])
        change = (b["latents"][0, -1] - b["latents"][0, -2, -1]).abs().mean().item()
        if change > best:
            best, clip = change, b
    args = TrainArgs(max_steps=400, batch_size=8, lr=3e-3, warmup_steps=20, log_every=50, device="cpu")
    torch.manual_seed(0)
    res = train(cfg, lambda step: {k: (v.repeat(8, *[1] * (v.dim() - 1)) if torch.is_tensor(v) else v * 8)
                                   for k, v in clip.items()}, str(overfit_dir), special,
                replace(args), progress=False)
    assert res["loss_text"] < 0.1
    model = TV2TVModel.from_pretrained(run_checkpoint(overfit_dir) / "model").eval()
    vae = AutoencoderKL.from_pretrained(VAE, torch_dtype=torch.float32, low_cpu_mem_usage=False)
    K = cfg.window_chunks
    s = StreamingSampler(model, special, guidance=1.0)
    s.reset(clip["latents"][:, :K - 1], [clip["texts"][0][:K - 1]])
    out = s.step([clip["texts"][0][-1]], [torch.Generator().manual_seed(0)])
    real = decode(vae, clip["latents"][0, -1])
    fake = decode(vae, out.latents[0])
    last = decode(vae, clip["latents"][0, -2, -1:]).expand_as(real)
    p_model, p_copy = psnr(fake, real), psnr(last, real)
    assert p_model > p_copy + 5, (p_model, p_copy)


def test_batches_are_a_function_of_the_step_and_cover_each_epoch(doom_latent_data):
    cfg, data, _ = _setup(doom_latent_data)
    n = len(data)
    fn = data.batch_fn(batch_size=n // 2 if n % 2 == 0 else n, seed=4)
    a, b = fn(1), fn(1)
    assert torch.equal(a["latents"], b["latents"]) and a["texts"] == b["texts"]
    # one epoch = every window once: the first epoch's batches hold n distinct windows
    seen = []
    steps = 2 if n % 2 == 0 else 1
    for step in range(steps):
        seen += [tuple(t[0]) + (float(l.sum()),) for t, l in zip(fn(step)["texts"], fn(step)["latents"])]
    assert len(set(seen)) == len(seen) == n


def test_balanced_batches_favour_rare_actions(doom_latent_data):
    """--balance-actions: windows drawn by inverse action frequency, still a pure function of
    the step; the rarest action's share of sampled chunks rises above its share in the data."""
    cfg, data, _ = _setup(doom_latent_data)
    w = data.window_weights(1.0)
    assert w.shape == (len(data),) and np.isclose(w.sum(), 1) and (w > 0).all()
    fn = data.batch_fn(64, seed=5, balance=1.0)
    assert torch.equal(fn(3)["actions"], fn(3)["actions"]) and not torch.equal(fn(3)["actions"], fn(4)["actions"])
    in_data = torch.cat([data.actions[e][s:s + data.window] for e, s in data.index])
    rare = int(torch.bincount(in_data).masked_fill(torch.bincount(in_data) == 0, 1 << 30).argmin())
    drawn = torch.cat([fn(step)["actions"].ravel() for step in range(20)])
    assert (drawn == rare).float().mean() > 1.5 * (in_data == rare).float().mean()
    with pytest.raises(UserError, match="balance"):
        data.batch_fn(4, balance=-1)


def test_gradient_accumulation_equals_one_big_batch(tmp_path):
    special = {"pad": 0, "bos": 1, "bof": 2, "eof": 3}
    cfg = get_config("tiny", vocab_size=40, text_dropout=0.0)
    for accum in (1, 2):
        train(cfg, _synthetic_batch_fn(cfg), tmp_path / f"a{accum}", special,
              TrainArgs(max_steps=2, batch_size=4, grad_accum=accum, warmup_steps=1, device="cpu", precision="fp32"),
              progress=False)
    one = torch.load(tmp_path / "a1" / "ckpt" / "train_state.pt", weights_only=False)["model"]
    two = torch.load(tmp_path / "a2" / "ckpt" / "train_state.pt", weights_only=False)["model"]
    for k in one:
        assert torch.allclose(one[k], two[k], atol=2e-5), k


def test_resuming_with_another_config_is_refused(doom_latent_data, tmp_path):
    run = tmp_path / "run"
    train_world(doom_latent_data, run, config="tiny", max_steps=2, batch_size=4, samples=False)
    with pytest.raises(UserError, match="another configuration"):
        train_world(doom_latent_data, run, config="small", max_steps=4, batch_size=4, resume=True, samples=False)


def test_warmup_cosine_schedule():
    a = TrainArgs(lr=2.0, warmup_steps=10, min_lr_ratio=0.05)
    lrs = [lr_at(step / 100, step, a) for step in range(101)]
    assert lrs[0] == pytest.approx(0.2)  # the first step: a tenth of the way up
    assert max(lrs) == lrs[9] == pytest.approx(2.0 * (0.05 + 0.95 * 0.5 * (1 + np.cos(0.09 * np.pi))))
    assert all(x >= y for x, y in zip(lrs[9:], lrs[10:]))  # after the warm-up, only down
    assert lrs[-1] == pytest.approx(0.1) == lr_at(1.5, 500, a)  # the floor, also past the end
    assert lr_at(0.5, 0, a) == pytest.approx(lr_at(0.5, 50, a) / 10)  # a new warm-up starts again from a tenth


def test_a_damaged_training_state_is_named_not_a_raw_error(doom_latent_data, tmp_path):
    """A truncated train_state.pt (a disk that filled up, a copy cut short) gives a UserError naming
    the file; when the previous checkpoint (ckpt.old) survived, resume takes that instead."""
    run = tmp_path / "run"
    train_world(doom_latent_data, run, config="tiny", max_steps=2, batch_size=4, samples=False, eval_every=1000)
    state = run / "ckpt" / "train_state.pt"
    good = state.read_bytes()
    state.write_bytes(good[: len(good) // 3])
    with pytest.raises(UserError, match=r"train_state.pt is damaged"):
        train_world(doom_latent_data, run, config="tiny", max_steps=4, batch_size=4, samples=False, resume=True)
    state.write_bytes(b"not a torch file at all")
    with pytest.raises(UserError, match=r"train_state.pt is damaged"):
        train_world(doom_latent_data, run, config="tiny", max_steps=4, batch_size=4, samples=False, resume=True)
    # a kill between the two renames of a checkpoint leaves only ckpt.old: resume goes on from it
    state.write_bytes(good)
    (run / "ckpt").rename(run / "ckpt.old")
    res = train_world(doom_latent_data, run, config="tiny", max_steps=4, batch_size=4, samples=False, resume=True,
                      eval_every=1000)
    assert res["step"] == 4 and (run / "ckpt" / "train_state.pt").is_file() and not (run / "ckpt.old").exists()


@pytest.mark.slow
def test_baselines_script_gives_every_run_the_same_recipe(doom_latent_data, tmp_path):
    """scripts/train_baselines.sh hands TRAIN_ARGS to each run alike, and BENCH=0 stops before the bench."""
    import subprocess
    import sys

    repo = SHIPPED.parents[1]
    env = dict(os.environ, CONDITIONS="text prompt", JOBS="1", BENCH="0", TV2TV=f"{sys.executable} -m tv2tv_cli",
               TRAIN_ARGS="--lr 5e-4 --seed 7")
    out = tmp_path / "runs"
    done = subprocess.run(["bash", "scripts/train_baselines.sh", str(doom_latent_data), str(out), "3", "tiny"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    for cond in ["text", "prompt"]:
        args = json.loads((out / cond / "train_args.json").read_text())
        assert (args["lr"], args["seed"], args["max_steps"]) == (5e-4, 7, 3)
        assert json.loads((out / cond / "config.json").read_text())["conditioning"] == cond
    assert "no bench" in done.stdout and not (out / "bench").exists()
