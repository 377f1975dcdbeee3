"""The world model: attention rules, KV-cache equivalence, gradient routing, save/load."""
import random
from dataclasses import replace

import pytest
import torch

from model.config import get_config
from model.flow import patchify, scatter_video, training_loss
from model.mot import TV2TVModel
from model.sampler import StreamingSampler
from model.sequence import CLEAN, NOISY, TEXT, attention_mask, build_layout

SPECIAL = {"pad": 0, "bos": 1, "bof": 2, "eof": 3}


def random_batch(rng, B, K, vocab=40):
    texts = [[[rng.randrange(4, vocab) for _ in range(rng.randrange(0, 5))] for _ in range(K)] for _ in range(B)]
    targets = [[rng.random() < 0.6 for _ in range(K)] for _ in range(B)]
    return texts, targets


def reference_mask(texts, targets, n):
    """The rules of DESIGN.md written out token by token, for one sample, in stream order.

    Stream: <bos> | text_k <bof> V_k <eof> | ..., then noisy copies. Each token is
    (role, chunk, index-in-stream); a noisy token's index is its clean twin's chunk start."""
    toks = [("text", None, 0)]
    for k, t in enumerate(texts):
        for _ in list(t) + ["bof"]:
            toks.append(("text", None, len(toks)))
        start = len(toks)
        for _ in range(n):
            toks.append(("clean", k, start))
        toks.append(("text", None, len(toks)))
    clean_start = {c: s for r, c, s in toks if r == "clean"}
    for k in range(len(texts)):
        if targets[k]:
            toks += [("noisy", k, clean_start[k])] * n
    L = len(toks)
    m = torch.zeros(L, L, dtype=torch.bool)
    for i, (rq, cq, sq) in enumerate(toks):
        for j, (rk, ck, sk) in enumerate(toks):
            if rk == "noisy":  # nothing sees a noisy chunk, except the chunk itself
                ok = rq == "noisy" and cq == ck
            elif rq == "noisy":  # a noisy chunk sees everything before its chunk
                ok = sk < sq
            elif rq == "clean" and rk == "clean" and cq == ck:  # both ways inside a chunk
                ok = True
            else:  # causal stream
                ok = sk <= (sq if rq != "clean" else sq) and (j <= i or (rk == "clean" and ck == cq))
            m[i, j] = ok
    return m


@pytest.mark.parametrize("seed", range(8))
def test_mask_matches_reference(seed):
    rng = random.Random(seed)
    B, K, n = 3, rng.randrange(1, 5), rng.choice([1, 4])
    texts, targets = random_batch(rng, B, K)
    lay = build_layout(texts, n, SPECIAL, targets)
    mask = attention_mask(lay.kind, lay.order, lay.chunk)
    for b in range(B):
        ref = reference_mask(texts[b], targets[b], n)
        L = ref.shape[0]
        assert torch.equal(mask[b, :L, :L], ref)
        assert not mask[b, :L, L:].any()  # nobody sees padding


def test_text_sees_earlier_clean_chunks_not_later():
    lay = build_layout([[[5, 6], [7]]], 2, SPECIAL, [[True, True]])
    m = attention_mask(lay.kind, lay.order, lay.chunk)[0]
    kind, chunk = lay.kind[0], lay.chunk[0]
    second_text = (lay.ids[0] == 7).nonzero().item()
    assert m[second_text, (kind == CLEAN) & (chunk == 0)].all()
    assert not m[second_text, (kind == CLEAN) & (chunk == 1)].any()
    assert not m[:, kind == NOISY][kind != NOISY].any()


def make_model(**kw):
    torch.manual_seed(0)
    cfg = get_config("tiny", vocab_size=40, **kw)
    m = TV2TVModel(cfg).eval()
    # adaLN-Zero starts the video tower as the identity; perturb it so the test is not trivial
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return m


def full_forward_velocity(model, latents, texts, sigma, x_noisy):
    """One pass over the whole stream with a noisy copy of the last chunk only."""
    cfg = model.config
    B, K = latents.shape[:2]
    lay = build_layout(texts, cfg.tokens_per_chunk, SPECIAL, [[k == K - 1 for k in range(K)]] * B)
    x0 = patchify(latents, cfg.patch)
    vals = x0.clone()
    vals[:, -1] = x_noisy
    noisy = lay.kind == NOISY
    video = torch.where(noisy[..., None], scatter_video(lay, vals), scatter_video(lay, x0))
    tlevel = noisy.float() * sigma
    out = model(lay.ids, lay.kind, lay.order, lay.spatial, video, tlevel,
                attention_mask(lay.kind, lay.order, lay.chunk), cond=lay.cond)
    return out.velocity[noisy].view(B, cfg.tokens_per_chunk, -1), out, lay


@pytest.mark.parametrize("kw", [{}, {"video_conv": 16}], ids=["plain", "video_conv"])
def test_kv_cache_streaming_equals_full_forward(kw):
    torch.manual_seed(1)
    model = make_model(**kw)
    cfg = model.config
    B, K = 2, 3
    lat = torch.randn(B, K, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    texts = [[[5, 6, 7], [8], [9, 10]], [[11], [12, 13, 14, 15], []]]
    x_noisy = torch.randn(B, cfg.tokens_per_chunk, cfg.patch_dim)
    sigma = 0.7
    v_full, out_full, lay = full_forward_velocity(model, lat, texts, sigma, x_noisy)

    s = StreamingSampler(model, SPECIAL, guidance=1.0, context_chunks=8)
    s.reset(lat[:, :-1], [t[:-1] for t in texts])
    states = s._append_text_and_bof([t[-1] for t in texts])
    n = cfg.tokens_per_chunk
    kind = torch.full((B, n), NOISY)
    order = s.next_order[:, None].expand(B, n)
    out = s._run(torch.zeros(B, n, dtype=torch.long), kind, order, torch.full((B, n), K - 1),
                 torch.arange(n)[None].expand(B, n), x_noisy, torch.full((B, n), sigma), ext_cond=states, append=False)
    assert torch.allclose(out.velocity, v_full, atol=1e-5), (out.velocity - v_full).abs().max()
    # text logits at the last chunk's <bof> from the cache equal the full pass's
    bof_full = out_full.hidden[torch.arange(B), lay.bof[:, -1]]
    assert torch.allclose(model.text_logits(states[-1]), model.text_logits(bof_full), atol=1e-5)
    # and the logits after the context's last <eof> (what the model would write next)
    eof_full = out_full.hidden[torch.arange(B), lay.eof[:, -2]]
    s2 = StreamingSampler(model, SPECIAL, guidance=1.0, context_chunks=8)
    s2.reset(lat[:, :-1], [t[:-1] for t in texts])
    assert torch.allclose(model.text_logits(s2.last_hidden), model.text_logits(eof_full), atol=1e-5)


def test_a_grown_model_computes_what_the_trained_one_did():
    """model/grow.py and `video_conv`: a 2-layer model's weights in a 5-layer model with conv
    blocks around its video tower (identity blocks between the trained ones, convolutions whose
    last layer starts at zero) give the same velocity, text logits and heads; the new parts learn."""
    from model.grow import deepen_weights, old_block_positions

    assert old_block_positions(4, 6) == [0, 1, 3, 4] and old_block_positions(2, 2) == [0, 1]
    with pytest.raises(ValueError, match="cannot grow"):
        old_block_positions(4, 3)
    torch.manual_seed(2)
    small = make_model()
    deep = TV2TVModel(replace(small.config, n_layers=5, video_conv=8)).eval()
    weights = deepen_weights(small.state_dict(), deep, small.config.n_layers)
    deep.load_state_dict({**deep.state_dict(), **weights})
    cfg = small.config
    lat = torch.randn(2, 3, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    texts = [[[5, 6, 7], [8], [9, 10]], [[11], [12, 13, 14, 15], []]]
    x_noisy = torch.randn(2, cfg.tokens_per_chunk, cfg.patch_dim)
    v_small, out_small, lay = full_forward_velocity(small, lat, texts, 0.6, x_noisy)
    v_deep, out_deep, _ = full_forward_velocity(deep, lat, texts, 0.6, x_noisy)
    assert torch.allclose(v_deep, v_small, atol=1e-5) and v_small.abs().max() > 0.1
    assert torch.allclose(deep.text_logits(out_deep.hidden), small.text_logits(out_small.hidden), atol=1e-5)
    eof = lay.eof[:, -2]
    for a, b in zip(deep.reward_end(out_deep.hidden[torch.arange(2), eof]),
                    small.reward_end(out_small.hidden[torch.arange(2), eof])):
        assert torch.allclose(a, b, atol=1e-5)
    (v_deep.square().mean() + deep.text_logits(out_deep.hidden).logsumexp(-1).mean()).backward()
    assert old_block_positions(2, 5) == [0, 2]
    new_block = deep.blocks[1]
    assert new_block.t_proj.weight.grad.abs().sum() > 0 and new_block.v_ada[-1].weight.grad.abs().sum() > 0
    assert deep.conv_in.net[-1].weight.grad.abs().sum() > 0 and deep.conv_out.net[-1].weight.grad.abs().sum() > 0


def test_grouped_modulation_equals_one_per_token(monkeypatch):
    """The adaLN modulation is computed once per chunk copy (model.mot.condition_groups); it
    must give what computing it for every video token gives."""
    import model.mot as mot

    torch.manual_seed(2)
    model = make_model()
    cfg = model.config
    lat = torch.randn(2, 3, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    texts = [[[5, 6, 7], [8], [9, 10]], [[11], [12, 13, 14, 15], []]]
    x_noisy = torch.randn(2, cfg.tokens_per_chunk, cfg.patch_dim)
    grouped, out_g, lay = full_forward_velocity(model, lat, texts, 0.6, x_noisy)
    first, group = mot.condition_groups(torch.tensor([7, 7, 7, 9]), torch.tensor([0.6, 0.6, 0.0, 0.6]))
    g = group.tolist()  # tokens 0 and 1 share source and noise level; 2 and 3 differ in one each
    assert g[0] == g[1] and len({g[0], g[2], g[3]}) == 3 and [g[i] for i in first.tolist()] == [0, 1, 2]
    monkeypatch.setattr(mot, "condition_groups", lambda src, tl: (torch.arange(len(src)), torch.arange(len(src))))
    per_token, out_t, _ = full_forward_velocity(model, lat, texts, 0.6, x_noisy)
    assert torch.allclose(grouped, per_token, atol=1e-5) and torch.allclose(out_g.hidden, out_t.hidden, atol=1e-5)


def test_flow_loss_gradients_reach_video_tower_and_shared_attention():
    model = make_model()
    cfg = model.config
    B, K = 2, 3
    lat = torch.randn(B, K, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    texts = [[[5, 6], [7], [8]]] * B
    model.config.loss_text = model.config.loss_reward = model.config.loss_end = 0.0
    model.config.text_dropout = 0.0
    loss, _ = training_loss(model, lat, texts, torch.zeros(B, K), torch.zeros(B, K), SPECIAL, torch.Generator().manual_seed(0))
    loss.backward()
    blk = model.blocks[0]
    for p in [blk.v_qkv.weight, blk.v_mlp[0].weight, blk.v_ada[1].weight, model.patch_in.weight]:
        assert p.grad is not None and p.grad.abs().sum() > 0
    # the noisy tokens attend to text keys and values: the flow loss trains the text tower's QKV too
    assert blk.t_qkv.weight.grad.abs().sum() > 0


def test_text_only_batch_leaves_video_tower_untouched():
    model = make_model()
    ids = torch.tensor([[1, 5, 6, 7, 8, 9]])
    kind = torch.full_like(ids, TEXT)
    order = torch.arange(6)[None]
    out = model(ids, kind, order, torch.zeros_like(ids), torch.zeros(1, 6, model.config.patch_dim),
                torch.zeros(1, 6), attention_mask(kind, order, torch.full_like(ids, -1)), cond=torch.zeros_like(ids))
    logits = model.text_logits(out.hidden[0, :-1])
    torch.nn.functional.cross_entropy(logits, ids[0, 1:]).backward()
    for blk in model.blocks:
        for p in list(blk.v_mlp.parameters()) + list(blk.v_qkv.parameters()):
            assert p.grad is None or p.grad.abs().sum() == 0
        assert blk.t_mlp[0].weight.grad.abs().sum() > 0


def test_sampler_is_deterministic_and_thinks():
    model = make_model()
    cfg = model.config
    lat = torch.randn(2, 2, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    texts = [[[5], [6]], [[7], [8]]]

    def rollout(seed):
        s = StreamingSampler(model, SPECIAL, steps=3, guidance=2.0, context_chunks=3, max_text_tokens=4)
        s.reset(lat, texts)
        gens = [torch.Generator().manual_seed(seed + b) for b in range(2)]
        outs = [s.step([[9, 10], None], gens) for _ in range(4)]  # crosses the context limit: rebuilds
        return outs

    a, b, c = rollout(0), rollout(0), rollout(1)
    for x, y in zip(a, b):
        assert torch.equal(x.latents, y.latents) and x.text_ids == y.text_ids
    assert not torch.equal(a[-1].latents, c[-1].latents)
    assert a[0].thought == [False, True] and a[0].text_ids[0] == [9, 10]
    assert len(a[0].text_ids[1]) <= 4 and all(t != SPECIAL["bof"] for t in a[0].text_ids[1])
    assert a[0].latents.shape == (2, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    assert ((a[0].end_prob >= 0) & (a[0].end_prob <= 1)).all()


def test_rotary_shift_composes_with_positions():
    rope = make_model().rope
    x = torch.randn(2, 3, 5, rope.inv.numel() * 2)
    pos = torch.randint(20, 60, (2, 5))
    by = torch.randint(-15, 15, (2, 5))
    assert torch.allclose(rope.shift(rope(x, pos), by), rope(x, pos + by), atol=1e-5)


def rolling_and_exact(model, steps=5, prompts=None):
    """The same streams stepped with both cache modes (same noise); they cross the context limit."""
    cfg = model.config
    torch.manual_seed(3)
    lat = torch.randn(2, 3, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    texts = [[[5], [6, 7, 8], []], [[9, 10], [11], [12]]]
    runs = {}
    for mode in ("exact", "rolling"):
        s = StreamingSampler(model, SPECIAL, steps=2, guidance=2.0, context_chunks=3, cache=mode)
        s.reset(lat, texts, prompts)
        gens = [torch.Generator().manual_seed(b) for b in range(2)]
        # texts of different lengths per stream, so that the cache holds padding to cut out too
        runs[mode] = ([s.step([[13, 14, 15][:1 + i % 3], [16]], gens).latents for i in range(steps)], s)
    return runs


@pytest.mark.parametrize("prompts", [None, [[20, 21], [22]]])
def test_rolling_cache_is_exact_for_one_layer(prompts):
    """A first layer's keys and values depend only on the token and its position, so with one
    layer the rolling cache (cut the oldest chunk, rotate the rest back) must equal a rebuild."""
    cfg = get_config("tiny", vocab_size=40, n_layers=1)
    torch.manual_seed(0)
    model = TV2TVModel(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    runs = rolling_and_exact(model, prompts=prompts)
    (exact, se), (rolling, sr) = runs["exact"], runs["rolling"]
    for a, b in zip(exact, rolling):
        assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()
    # the caches hold the same tokens at the same positions
    for kind_e, order_e, kind_r, order_r in zip(se.key_kind, se.key_order, sr.key_kind, sr.key_order):
        live_e, live_r = kind_e != 0, kind_r != 0
        assert torch.equal(order_e[live_e], order_r[live_r]) and torch.equal(kind_e[live_e], kind_r[live_r])
    assert torch.equal(se.next_order, sr.next_order) and se.n_chunks == sr.n_chunks == 3
    assert [len(h) for h in sr.history] == [3, 3]


def test_rolling_cache_differs_from_a_rebuild_only_after_a_drop():
    model = make_model()  # four layers: deeper states remember the dropped chunk
    runs = rolling_and_exact(model, steps=3)
    exact, rolling = runs["exact"][0], runs["rolling"][0]
    assert torch.allclose(exact[0], rolling[0], atol=1e-5)  # nothing dropped before the first chunk
    assert not torch.allclose(exact[2], rolling[2], atol=1e-4)
    with pytest.raises(ValueError, match="rolling"):
        StreamingSampler(model, SPECIAL, cache="approximate")


def test_save_and_load_roundtrip(tmp_path):
    model = make_model()
    model.save_pretrained(tmp_path / "m")
    loaded = TV2TVModel.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    for (n1, p1), (n2, p2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2)
    readme = (tmp_path / "m" / "README.md").read_text()  # never the mixin's "pushed to the Hub" card
    assert "from_pretrained(FOLDER)" in readme and "Hub" not in readme


def test_clean_copy_flip_shows_later_chunks_the_noisy_copy():
    """clean_flip=1: every target chunk's clean copy is its noisy copy, with the noisy copy's
    level; the context chunk keeps its clean copy. clean_flip=0 draws everything else as before."""
    from model.flow import draw_randomness

    model = make_model(clean_flip=1.0, text_dropout=0.0)
    cfg = model.config
    B, K = 2, 3
    lat = torch.randn(B, K, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    seen = {}

    def spy(mod, args, kwargs):
        seen["video"], seen["tlevel"] = args[4], args[5]

    handle = model.register_forward_pre_hook(spy, with_kwargs=True)
    rand = draw_randomness(cfg, B, K, torch.Generator().manual_seed(3))
    training_loss(model, lat, [[[5], [6], [7]]] * B, torch.zeros(B, K), torch.zeros(B, K), SPECIAL, rand=rand)
    handle.remove()
    lay = build_layout([[[5], [6], [7]]] * B, cfg.tokens_per_chunk, SPECIAL,
                       [[k >= cfg.first_target_chunk for k in range(K)]] * B)
    assert rand["flip"][:, :cfg.first_target_chunk].eq(False).all() and rand["flip"][:, cfg.first_target_chunk:].all()
    for k in range(K):
        clean = (lay.kind == CLEAN) & (lay.chunk == k)
        noisy = (lay.kind == NOISY) & (lay.chunk == k)
        if k < cfg.first_target_chunk:
            assert torch.allclose(seen["tlevel"][clean], rand["s"][:, k].repeat_interleave(cfg.tokens_per_chunk))
            continue
        assert torch.equal(seen["video"][clean], seen["video"][noisy])
        assert torch.equal(seen["tlevel"][clean], seen["tlevel"][noisy])
        assert (seen["tlevel"][clean] > cfg.context_noise_max).any()  # flow times reach far above context noise
    plain = make_model(text_dropout=0.0).config
    again = draw_randomness(plain, B, K, torch.Generator().manual_seed(3))
    assert not again["flip"].any()
    for key in ["drop", "s", "t", "n_clean", "n_flow"]:
        assert torch.equal(again[key], rand[key])


def test_sampler_may_add_events_after_a_given_command_only():
    """event_openers: a given command is kept and may be followed by an opener and the model's
    own words (never by other text); a thought is written as before. The returned text is what
    drove the chunk, so that the reward and end heads read the events as in training."""
    model = make_model()
    cfg = model.config
    lat = torch.randn(8, 2, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    openers = [11, 12]

    def rollout(events):
        s = StreamingSampler(model, SPECIAL, steps=2, guidance=2.0, context_chunks=3, max_text_tokens=5,
                             event_openers=openers if events else None)
        s.reset(lat, [[[5], [6]]] * 8)
        gens = [torch.Generator().manual_seed(b) for b in range(8)]
        return [s.step([[9, 10]] * 7 + [None], gens) for _ in range(2)]

    plain, with_events = rollout(False), rollout(True)
    assert all(r.text_ids[b] == [9, 10] for r in plain for b in range(7))
    added = [r.text_ids[b][2:] for r in with_events for b in range(7)]
    for r in with_events:
        for b in range(7):
            assert r.text_ids[b][:2] == [9, 10] and not r.thought[b]
        assert r.thought[7] and r.text_ids[7] and SPECIAL["bof"] not in r.text_ids[7]
    assert all(a[0] in openers for a in added if a) and all(SPECIAL["bof"] not in a for a in added)
    assert any(added) and not all(added)  # some commands got events, some stayed as given


def test_own_drafts_are_what_the_sampler_draws_and_later_chunks_see_them():
    """own_context=1: each target chunk's clean copy is the model's own draft of it, drawn from the
    recorded chunks before it exactly as the streaming sampler draws the chunk (same noise, same
    Euler steps, no guidance); the flow targets stay recorded. own_context=0 draws as before."""
    from model.flow import draw_randomness

    model = make_model(own_context=1.0, own_context_steps=2, text_dropout=0.0, context_noise_max=0.0)
    cfg = model.config
    B, K, texts = 2, 3, [[[5], [6, 7], [8]]] * 2
    lat = torch.randn(B, K, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    rand = draw_randomness(cfg, B, K, torch.Generator().manual_seed(4))
    seen = []
    handle = model.register_forward_pre_hook(lambda mod, args, kw: seen.append(args[4]), with_kwargs=True)
    training_loss(model, lat, texts, torch.zeros(B, K), torch.zeros(B, K), SPECIAL, rand=rand)
    handle.remove()
    assert len(seen) == 2 + 1  # two Euler steps without gradient, then the training forward
    lay = build_layout(texts, cfg.tokens_per_chunk, SPECIAL, [[k >= cfg.first_target_chunk for k in range(K)]] * B)
    x0 = patchify(lat, cfg.patch)
    for k in range(1, K):  # chunk k's draft, by the sampler from the recorded chunks before it
        sampler = StreamingSampler(model, SPECIAL, steps=2, guidance=1.0, context_chunks=K)
        sampler.reset(lat[:, :k], [t[:k] for t in texts])
        drawn, _ = sampler.draw_chunk([t[k] for t in texts], [None] * B, rand["n_own"][:, k])
        seen_clean = seen[-1][(lay.kind == CLEAN) & (lay.chunk == k)].view(B, cfg.tokens_per_chunk, -1)
        torch.testing.assert_close(seen_clean, drawn, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(seen_clean, x0[:, k], atol=1e-2)  # not the recorded chunk
        seen_noisy = seen[-1][(lay.kind == NOISY) & (lay.chunk == k)].view(B, cfg.tokens_per_chunk, -1)
        t = rand["t"][:, k, None, None]
        torch.testing.assert_close(seen_noisy, t * rand["n_flow"][:, k] + (1 - t) * x0[:, k])  # targets recorded
    torch.testing.assert_close(seen[-1][(lay.kind == CLEAN) & (lay.chunk == 0)].view(B, cfg.tokens_per_chunk, -1),
                               x0[:, 0])  # the context-only chunk stays recorded
    plain = make_model(text_dropout=0.0, context_noise_max=0.0).config
    again = draw_randomness(plain, B, K, torch.Generator().manual_seed(4))
    assert "own" not in again
    for key in ["drop", "s", "t", "n_clean", "n_flow", "flip"]:
        assert torch.equal(again[key], rand[key])
