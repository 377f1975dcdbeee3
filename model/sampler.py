"""Streaming sampler: generate a game one chunk at a time with a KV cache (DESIGN.md, "Inference").

For each step and each stream of the batch:
1. Append the chunk's text and <bof> to the cache. Without text, the model writes its own
   (sampled token by token until it emits <bof>): it "thinks" what happens next.
2. Sample the chunk's latents with a few Euler steps of the flow ODE
   (`diffusers.FlowMatchEulerDiscreteScheduler`); each step runs only the chunk's 16 noisy
   tokens against the cache. Classifier-free guidance runs the conditional and the
   unconditional branch (same past, no text for this chunk) as one batch.
3. Append the clean chunk and <eof>; read reward and episode end at <eof>.
4. Keep at most `context_chunks` chunks: when there are more, drop the oldest.
   `cache="rolling"` (the default) cuts the oldest chunk's keys and values out and moves the
   later keys back by rotating them (rotary positions are relative, so the kept tokens keep
   their positions and scores). Not identical to a rebuild: the kept tokens' states in layers
   after the first still carry what they saw of the dropped chunk; the whole benchmark found
   no loss from it (README, "Speed"), and it saves a forward over the context at each step.
   `cache="exact"` rebuilds the cache from the kept chunks, as the model was trained.

With a language prior (`config.command_dim` > 0) every chunk also has a command vector at
its <bof>: given by the caller (`command_vectors=`), or made from the chunk's token ids by
`command_fn` (the caller's sentence encoder; used for context chunks and for thoughts). A
chunk given as empty ids with a vector is a command read by meaning only (its words were
never recorded); the unconditional guidance branch has neither.

A thought is never empty: <bof> cannot be the first token the model writes.

Events (`event_openers`, off unless given): recorded text says what happened in a chunk after
the player's command ("shoot; an enemy dies"), and the reward and end heads learned to read
it there. With the token ids that open such a tail (";", " but"), a given command may be
continued by the model: its first token is an opener or <bof>, and after an opener it writes
the events it expects until <bof>, as a thought is written. `logit_bias` ({token id: b}) adds b
to those tokens' logits wherever the model writes: the world scales the odds of writing a death
with it (tv2tv_env/world.py, `death_odds`).

A distilled student (`student=`, made by `tv2tv distill`, model/distill.py) draws step 2 in
its few Euler steps without guidance, against the same cache and <bof> states; everything
else (the cache, text, thoughts, reward and end) stays the model's own.

Works on token ids and latents; text and frames are the caller's business. Names: `text_ids`
are a chunk's token ids (the command as the model reads it, or the text it writes),
`command_vectors` the language prior's sentence vectors; a command string never gets here.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from .euler import flow_scheduler, guided_euler
from .flow import patchify, scatter_commands, scatter_video, unpatchify
from .sequence import CLEAN, NOISY, PAD, TEXT, attention_mask, build_layout


CACHE_MODES = ("exact", "rolling")  # what `step` does when the oldest chunk leaves the context
DEFAULT_CACHE = "rolling"  # `tv2tv bench --cache rolling` matched the exact rebuild on every figure


@dataclass
class ChunkResult:
    latents: torch.Tensor  # (B, F, C, h, w) the new chunk, normalised VAE latents
    text_ids: list  # per stream: the token ids that drove the chunk
    thought: list  # per stream: True when the model wrote the text itself
    reward: torch.Tensor  # (B,) predicted reward
    end_prob: torch.Tensor  # (B,) predicted probability that the episode ends here


class StreamingSampler:
    def __init__(self, model, special: dict, steps: int | None = None, guidance: float | None = None,
                 context_chunks: int | None = None, max_text_tokens: int = 24, temperature: float = 1.0,
                 command_fn=None, event_openers: list[int] | None = None, cache: str = DEFAULT_CACHE,
                 logit_bias: dict[int, float] | None = None,
                 student=None):
        cfg = model.config
        self.student = student  # a distilled sampler (model/distill.py): draws in its few steps, no guidance
        if cache not in CACHE_MODES:
            raise ValueError(f"cache={cache!r}: choose one of {', '.join(CACHE_MODES)}")
        self.cache = cache
        self.event_openers = list(event_openers) if event_openers else None
        if cfg.command_dim and command_fn is None:
            raise ValueError("this model reads command vectors: give the sampler a command_fn (token ids -> vectors)")
        self.command_fn = command_fn
        self._never_written = [special[k] for k in ("pad", "bos", "eof")]
        self.model, self.special = model, special
        self.steps = steps or cfg.sampling_steps
        self.guidance = cfg.guidance if guidance is None else guidance
        self.context_chunks = context_chunks or cfg.context_chunks
        self.max_text_tokens, self.temperature = max_text_tokens, temperature
        self.logit_bias = logit_bias or {}  # token id -> added to its logit wherever the model writes
        self.scheduler = flow_scheduler()
        self.history = None

    @property
    def student_steps(self) -> int | None:
        """The Euler steps the student draws in (its config says), or None without one."""
        return None if self.student is None else self.student.config.sampling_steps

    # --- cache --------------------------------------------------------------------------
    @property
    def device(self):
        return next(self.model.parameters()).device

    def reset(self, context_latents: torch.Tensor, context_texts: list, prompts: list | None = None):
        """Start B streams from real context chunks: latents (B, Kc, F, C, h, w), texts[b][k] ids."""
        B = context_latents.shape[0]
        self.history, self.prompts = [None] * B, [[] for _ in range(B)]
        self.replace_rows(list(range(B)), context_latents, context_texts, prompts)
        self.rebuild()

    def _command_vectors_of(self, text_ids: list) -> list:
        """Command vectors (on the CPU) of token-id lists, or Nones for a model without a prior."""
        if not self.model.config.command_dim:
            return [None] * len(text_ids)
        return list(self.command_fn([list(t) for t in text_ids]).float().cpu())

    def replace_rows(self, rows: list, context_latents: torch.Tensor, context_texts: list, prompts: list | None = None):
        """Set the history of `rows` without touching the cache: the next rebuild (the end
        of a `step`, or `rebuild()`) picks it up. Lets a vector env step the live streams
        and restart finished ones in one rebuild."""
        patches = patchify(context_latents.to(self.device, torch.float32), self.model.config.patch)
        for i, b in enumerate(rows):
            vectors = self._command_vectors_of(context_texts[i])
            self.history[b] = [(list(t), p, v) for t, p, v in zip(context_texts[i], patches[i], vectors)]
            self.prompts[b] = list(prompts[i]) if prompts else []

    def _command_tensor(self, layout, command_vectors: list) -> torch.Tensor | None:
        """(B, L, dim): command_vectors[b][k], chunk k's vector, at its <bof> (None without a prior)."""
        if not self.model.config.command_dim:
            return None
        return scatter_commands(layout, torch.stack([torch.stack(row) for row in command_vectors]).to(self.device))

    @torch.no_grad()
    def rebuild(self):
        """Run the retained history (prompt + last `context_chunks` chunks) into a fresh cache.
        All streams keep the same number of chunks (the shortest history's), so that one
        batch holds them; with contexts of `context_chunks` chunks nothing is lost."""
        cfg, dev = self.model.config, self.device
        keep = min(self.context_chunks, min(len(h) for h in self.history))
        self.history = [h[-keep:] for h in self.history]
        texts = [[t for t, *_ in h] for h in self.history]
        lay = build_layout(texts, cfg.tokens_per_chunk, self.special, [[False] * len(h) for h in self.history],
                           prompts=self.prompts).to(dev)
        vals = torch.stack([torch.stack([p for _, p, _ in h]) for h in self.history])  # (B, K, n, P)
        B, K = vals.shape[:2]
        video = scatter_video(lay, vals)
        mask = attention_mask(lay.kind, lay.order, lay.chunk)
        command = self._command_tensor(lay, [[c for *_, c in h] for h in self.history])
        out = self.model(lay.ids, lay.kind, lay.order, lay.spatial, video, torch.zeros_like(lay.order, dtype=torch.float),
                         mask, cond=lay.cond, command=command)
        self.k = [kv[0] for kv in out.kv]
        self.v = [kv[1] for kv in out.kv]
        self.key_kind, self.key_order, self.key_chunk = lay.kind, lay.order, lay.chunk
        last = lay.eof[:, -1]
        rows = torch.arange(B, device=dev)
        self.last_hidden = out.hidden[rows, last]
        self.next_order = lay.order[rows, last] + 1
        self.n_chunks = K

    def _run(self, ids, kind, order, chunk, spatial, video, tlevel, ext_cond=None, keep_states=None, append=True,
             command=None, model=None):
        """Run new tokens (B, n) against the cache (by `model`, default the sampler's own);
        optionally append them to it."""
        k_kind = torch.cat([self.key_kind, kind], 1)
        k_order = torch.cat([self.key_order, order], 1)
        k_chunk = torch.cat([self.key_chunk, chunk], 1)
        mask = attention_mask(kind, order, chunk, k_kind, k_order, k_chunk)
        past = list(zip(self.k, self.v))
        out = (model or self.model)(ids, kind, order, spatial, video, tlevel, mask, ext_cond=ext_cond, past=past,
                         keep_states=keep_states, command=command)
        if append:
            self.k = [torch.cat([a, kv[0]], 2) for a, kv in zip(self.k, out.kv)]
            self.v = [torch.cat([a, kv[1]], 2) for a, kv in zip(self.v, out.kv)]
            self.key_kind, self.key_order, self.key_chunk = k_kind, k_order, k_chunk
        return out

    def _truncate(self, length):
        self.k = [a[:, :, :length] for a in self.k]
        self.v = [a[:, :, :length] for a in self.v]
        for name in ["key_kind", "key_order", "key_chunk"]:
            setattr(self, name, getattr(self, name)[:, :length])

    def _drop_oldest_chunk(self):
        """The rolling cache: cut each stream's oldest chunk (its text, <bof>, clean tokens and
        <eof>) out of the cache, keep <bos> and the prompt, and move every later key back by
        the positions the chunk held, so that positions are those a rebuild would give."""
        dev, big = self.device, 1 << 30
        order, kind = self.key_order, self.key_kind
        head = torch.tensor([1 + len(p) for p in self.prompts], device=dev)[:, None]  # <bos> + prompt
        first_clean = torch.where(kind == CLEAN, order, big).min(1, keepdim=True).values
        eof = first_clean + 1  # the oldest chunk's <eof>: its last position
        later = order > eof
        keep = (kind != PAD) & ((order < head) | later)  # cache padding goes too
        # kept positions first, in cache order; rows padded to the longest
        n_keep = keep.sum(1)
        L = int(n_keep.max())
        idx = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :L]
        valid = torch.arange(L, device=dev)[None] < n_keep[:, None]
        back = torch.where(later, eof + 1 - head, 0).gather(1, idx)  # (B, L) positions to move back
        rope = self.model.rope
        for i in range(len(self.k)):
            gi = idx[:, None, :, None].expand(-1, self.k[i].shape[1], -1, self.k[i].shape[3])
            self.k[i] = rope.shift(self.k[i].gather(2, gi), -back)
            self.v[i] = self.v[i].gather(2, gi)
        self.key_kind = torch.where(valid, kind.gather(1, idx), PAD)
        self.key_order = torch.where(valid, order.gather(1, idx) - back, big)
        self.key_chunk = torch.where(valid, self.key_chunk.gather(1, idx), -1)
        self.next_order = self.next_order - (eof[:, 0] + 1 - head[:, 0])
        self.n_chunks -= 1
        self.history = [h[1:] for h in self.history]

    def _select_rows(self, rows):
        self.k = [a[rows] for a in self.k]
        self.v = [a[rows] for a in self.v]
        for name in ["key_kind", "key_order", "key_chunk", "next_order", "last_hidden"]:
            setattr(self, name, getattr(self, name)[rows])

    def _run_text(self, ids, kind, order, keep_states=None, command=None):
        """Run text tokens (B, n) (PAD where a stream has none) against the cache, appending them."""
        zeros = torch.zeros_like(ids)
        video = torch.zeros(*ids.shape, self.model.config.patch_dim, device=ids.device)
        return self._run(ids, kind, order, zeros - 1, zeros, video, zeros.float(), keep_states=keep_states,
                         command=command)

    # --- one chunk ----------------------------------------------------------------------
    def _append_text_and_bof(self, text_ids, command_vectors=None):
        """Append each stream's text ids + <bof> (with its command vector, if any); returns
        per-layer <bof> states (B, d)."""
        dev, B = self.device, len(text_ids)
        seqs = [list(t) + [self.special["bof"]] for t in text_ids]
        n = max(len(s) for s in seqs)
        ids = torch.full((B, n), self.special["pad"], dtype=torch.long)
        kind = torch.full((B, n), PAD, dtype=torch.long)
        order = torch.full((B, n), 1 << 30, dtype=torch.long)
        for b, s in enumerate(seqs):
            ids[b, :len(s)] = torch.tensor(s)
            kind[b, :len(s)] = TEXT
            order[b, :len(s)] = self.next_order[b].cpu() + torch.arange(len(s))
        bof_at = torch.tensor([len(s) - 1 for s in seqs], device=dev)
        command = None
        if command_vectors is not None:
            command = torch.zeros(B, n, command_vectors.shape[-1], device=dev)
            command[torch.arange(B, device=dev), bof_at] = command_vectors.to(dev, torch.float32)
        out = self._run_text(ids.to(dev), kind.to(dev), order.to(dev), keep_states=bof_at, command=command)
        self.next_order = self.next_order + bof_at + 1
        return out.states

    @torch.no_grad()
    def _feed(self, tokens: dict, logits: torch.Tensor) -> torch.Tensor:
        """Append the given tokens of some streams ({b: ids}) one position at a time (the other
        streams get padding that nobody sees); returns the text logits after them."""
        dev = self.device
        for j in range(max((len(t) for t in tokens.values()), default=0)):
            B = logits.shape[0]
            ids = torch.full((B, 1), self.special["pad"], dtype=torch.long)
            kind = torch.full((B, 1), PAD, dtype=torch.long)
            order = torch.full((B, 1), 1 << 30, dtype=torch.long)
            for b, t in tokens.items():
                if j < len(t):
                    ids[b, 0], kind[b, 0], order[b, 0] = t[j], TEXT, int(self.next_order[b])
            out = self._run_text(ids.to(dev), kind.to(dev), order.to(dev))
            step = (kind[:, 0] == TEXT).long().to(dev)
            self.next_order = self.next_order + step
            logits = torch.where(step[:, None].bool(), self.model.text_logits(out.hidden[:, 0]), logits)
        return logits

    def _think(self, rows, generators, given: dict | None = None):
        """Let the model write text for `rows` until it emits <bof>. Returns token id lists.
        `given` ({b: ids}): those rows start from a given command and may only go on with an
        event opener (or stop at once); what is returned is what the model added."""
        given = given or {}
        written = {b: [] for b in rows}
        # Sampling is done one token at a time for all streams, so that the cache stays one
        # batch; streams that are not thinking (or are done) get padding that nobody sees.
        active = set(rows)
        logits = self._feed(given, self.model.text_logits(self.last_hidden))
        bof = self.special["bof"]
        for i in range(self.max_text_tokens):
            if not active:
                break
            new = {}
            for b in list(active):
                lg = logits[b].float().cpu()
                lg[self._never_written] = float("-inf")  # <pad>, <bos>, <eof> are not text
                if i == 0 and b in given:  # after a command: an event tail, or nothing
                    keep = lg[self.event_openers + [bof]]
                    lg = torch.full_like(lg, float("-inf"))
                    lg[self.event_openers + [bof]] = keep
                elif i == 0:  # a thought is never empty: the first token cannot close it
                    lg[bof] = float("-inf")
                for tok, bias in self.logit_bias.items():
                    lg[tok] += bias
                p = torch.softmax(lg / max(self.temperature, 1e-4), -1)
                tok = int(torch.multinomial(p, 1, generator=generators[b]))
                if tok == bof:
                    active.discard(b)
                    continue
                written[b].append(tok)
                new[b] = [tok]
            if not new:
                break
            logits = self._feed(new, logits)
        return written

    @torch.no_grad()
    def step(self, text_ids: list, generators: list, rows: list | None = None,
             command_vectors: list | None = None) -> ChunkResult:
        """text_ids[b]: token ids of the command, or None to let the model write it ([] is a chunk
        with no text: what prompt-conditioned baselines are given).
        generators[b]: a torch.Generator per stream (noise and text sampling).
        rows: step only these streams (text_ids and generators then have one entry per row);
        the others stand still. Costs one extra cache rebuild.
        command_vectors[b]: the command's vector (a model with a language prior), or None to make
        it from the chunk's token ids with `command_fn`."""
        if rows is not None and len(rows) < len(self.history):
            history, prompts = self.history, self.prompts
            self._select_rows(torch.tensor(rows, device=self.device))
            self.history, self.prompts = [history[r] for r in rows], [prompts[r] for r in rows]
            result = self.step(text_ids, generators, command_vectors=command_vectors)
            for i, r in enumerate(rows):
                history[r] = self.history[i]
            self.history, self.prompts = history, prompts
            self.rebuild()
            return result
        cfg, dev = self.model.config, self.device
        B = len(text_ids)
        thought = [t is None for t in text_ids]
        given = {b: list(t) for b, t in enumerate(text_ids) if t and self.event_openers}  # may get events
        # 1. the model writes text where none was given (and events after a given command);
        # that text is then rolled back out of the cache and fed like a given command, so that
        # both take the same path below (and the unconditional branch never sees it)
        if any(thought) or given:
            length, next_order, last = self.k[0].shape[2], self.next_order.clone(), self.last_hidden
            written = self._think([b for b in range(B) if thought[b] or b in given], generators, given)
            self._truncate(length)
            self.next_order, self.last_hidden = next_order, last
            text_ids = [written[b] if thought[b] else given[b] + written[b] if b in given else text_ids[b]
                        for b in range(B)]
        text_ids = [list(t) for t in text_ids]
        vectors = self.complete_command_vectors(text_ids, command_vectors)
        # 2. Euler steps over the chunk's noisy tokens (the student's, where there is one)
        n, P = cfg.tokens_per_chunk, cfg.patch_dim
        noise = torch.stack([torch.randn(n, P, generator=g) for g in generators]).to(dev)
        x, states = self.draw_chunk(text_ids, vectors, noise)
        # 3. append the clean chunk and <eof>; read reward and end at <eof>
        kind = torch.cat([torch.full((B, n), CLEAN, dtype=torch.long), torch.full((B, 1), TEXT, dtype=torch.long)], 1).to(dev)
        order = torch.cat([self.next_order[:, None].expand(B, n), self.next_order[:, None] + 1], 1)
        chunk = torch.cat([torch.full((B, n), self.n_chunks, dtype=torch.long, device=dev),
                           torch.full((B, 1), -1, dtype=torch.long, device=dev)], 1)
        spatial = torch.cat([torch.arange(n, device=dev)[None].expand(B, n), torch.zeros(B, 1, dtype=torch.long, device=dev)], 1)
        ids = torch.full((B, n + 1), self.special["pad"], dtype=torch.long, device=dev)
        ids[:, n] = self.special["eof"]
        video = torch.cat([x, torch.zeros(B, 1, P, device=dev)], 1)
        out = self._run(ids, kind, order, chunk, spatial, video, torch.zeros(B, n + 1, device=dev), ext_cond=states)
        self.last_hidden = out.hidden[:, n]
        reward, end_logit = self.model.reward_end(self.last_hidden)
        self.next_order = self.next_order + 2
        self.n_chunks += 1
        for b in range(B):
            self.history[b].append((text_ids[b], x[b], vectors[b]))
        if self.n_chunks > self.context_chunks:
            self._drop_oldest_chunk() if self.cache == "rolling" else self.rebuild()
        lat = unpatchify(x[:, None], cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.patch)[:, 0]
        return ChunkResult(lat, text_ids, thought, reward.float(), torch.sigmoid(end_logit.float()))

    def _append_chunk_text(self, text_ids: list, command_vectors: list, guided: bool) -> list:
        """Append each stream's chunk text (its ids, <bof> and command vector) to the cache;
        `guided`: also the unconditional rows B..2B-1, the same streams with no text for this
        chunk. Returns the per-layer <bof> states: the condition of the chunk's video tokens."""
        B, dev = len(text_ids), self.device
        vectors = None if command_vectors[0] is None else torch.stack(command_vectors)
        if not guided:
            return self._append_text_and_bof(text_ids, vectors)
        self._select_rows(torch.cat([torch.arange(B), torch.arange(B)]).to(dev))
        if vectors is not None:
            vectors = torch.cat([vectors, torch.zeros_like(vectors)])
        return self._append_text_and_bof(text_ids + [[] for _ in range(B)], vectors)

    def draw_chunk(self, text_ids: list, command_vectors: list, noise: torch.Tensor, steps: int | None = None):
        """Read each stream's command (token ids, vector) into the cache and draw its chunk from
        `noise` (B, n, P): by the student where there is one (its steps, no guidance), else by
        the model (`steps` Euler steps, default its own, with its guidance). Leaves the cache
        holding the command but not the chunk. Returns the chunk and the per-layer <bof> states."""
        B = len(text_ids)
        guided = self.student is None and self.guidance != 1.0  # a student has the guidance in it
        states = self._append_chunk_text(text_ids, command_vectors, guided)
        if self.student is not None:
            x = guided_euler(self.velocity_fn(states, self.student), noise, self.scheduler, self.student_steps, 1.0)
        else:
            x = guided_euler(self.velocity_fn(states), noise, self.scheduler, steps or self.steps, self.guidance)
        if guided:  # keep the conditional rows
            self._select_rows(torch.arange(B, device=self.device))
            states = [s[:B] for s in states]
        return x, states

    def velocity_fn(self, states: list, model=None):
        """velocity(x, t) of the next chunk's noisy tokens (R rows: every row of the cache)
        against the cache, by `model` (default: the sampler's own; a distilled student reads
        the same cache and <bof> states, and only draws)."""
        cfg, dev = self.model.config, self.device
        R, n = len(self.next_order), cfg.tokens_per_chunk
        kind = torch.full((R, n), NOISY, dtype=torch.long, device=dev)
        order = self.next_order[:, None].expand(R, n).contiguous()
        chunk = torch.full((R, n), self.n_chunks, dtype=torch.long, device=dev)
        spatial = torch.arange(n, device=dev)[None].expand(R, n).contiguous()
        ids = torch.full((R, n), self.special["pad"], dtype=torch.long, device=dev)

        def velocity(xin, t):
            sigma = (t / 1000.0).to(dev).expand(R, n).float()
            return self._run(ids, kind, order, chunk, spatial, xin, sigma, ext_cond=states, append=False,
                             model=model).velocity

        return velocity

    def complete_command_vectors(self, text_ids: list, command_vectors: list | None) -> list:
        """Each stream's command vector: the one given, else made from its token ids."""
        if not self.model.config.command_dim:
            return [None] * len(text_ids)
        vectors = list(command_vectors) if command_vectors is not None else [None] * len(text_ids)
        missing = [b for b, v in enumerate(vectors) if v is None]
        if missing:
            for b, v in zip(missing, self._command_vectors_of([text_ids[b] for b in missing])):
                vectors[b] = v
        return [torch.as_tensor(v, dtype=torch.float32).cpu() for v in vectors]


    @torch.no_grad()
    def write_prompt(self, generators: list, max_tokens: int = 64) -> list[list[int]]:
        """Text a plan-writing model (Think2V) writes before its first chunk: from <bos>, token by
        token until <bof> (at most `max_tokens`), one stream per generator. The <bof> is not part
        of the prompt: `step` places one before each chunk. No cache: a prompt is written once."""
        model, special, dev = self.model, self.special, self.device
        rows = [[special["bos"]] for _ in generators]
        done = [False] * len(generators)
        for _ in range(max_tokens):
            L = max(len(r) for r in rows)
            ids = torch.tensor([r + [special["pad"]] * (L - len(r)) for r in rows], device=dev)
            kind = torch.full_like(ids, TEXT)
            order = torch.arange(L, device=dev)[None].expand_as(ids)
            out = model(ids, kind, order, torch.zeros_like(ids),
                        torch.zeros(*ids.shape, model.config.patch_dim, device=dev), torch.zeros(ids.shape, device=dev),
                        attention_mask(kind, order, torch.full_like(ids, -1)))
            last = out.hidden[torch.arange(len(rows), device=dev), torch.tensor([len(r) - 1 for r in rows], device=dev)]
            probs = torch.softmax(model.text_logits(last).float().cpu() / max(self.temperature, 1e-4), -1)
            for b, g in enumerate(generators):
                if done[b]:
                    continue
                tok = int(torch.multinomial(probs[b], 1, generator=g))
                if tok in (special["bof"], special["eof"], special["pad"]):
                    done[b] = True
                else:
                    rows[b].append(tok)
            if all(done):
                break
        return [r[1:] for r in rows]


@torch.no_grad()
def sample_without_cache(sampler: StreamingSampler, text_ids: list, generators: list,
                         command_vectors: list | None = None) -> torch.Tensor:
    """The chunk `sampler.step(text_ids, generators)` would draw (given text, same noise), but
    recomputing the whole retained stream at every Euler step instead of using the KV cache.
    The reference that the cache is tested against, and the "no cache" side of `tv2tv speed`.
    Leaves the sampler untouched. Returns latents (B, F, C, h, w)."""
    model, special, cfg, dev = sampler.model, sampler.special, sampler.model.config, sampler.device
    n, P = cfg.tokens_per_chunk, cfg.patch_dim
    hist_texts = [[t for t, *_ in h] + [list(text_ids[b])] for b, h in enumerate(sampler.history)]
    new_vectors = sampler.complete_command_vectors([list(t) for t in text_ids], command_vectors)
    hist_vectors = [[v for *_, v in h] + [new_vectors[b]] for b, h in enumerate(sampler.history)]
    guided = sampler.guidance != 1.0
    if guided:  # unconditional rows: the same stream without this chunk's text
        hist_texts += [h[:-1] + [[]] for h in hist_texts]
        hist_vectors += [h[:-1] + [None if h[-1] is None else torch.zeros_like(h[-1])] for h in hist_vectors]
    R, K = len(hist_texts), len(hist_texts[0])
    prompts = sampler.prompts + (sampler.prompts if guided else [])
    lay = build_layout(hist_texts, n, special, [[False] * (K - 1) + [True]] * R, prompts=prompts).to(dev)
    mask = attention_mask(lay.kind, lay.order, lay.chunk)
    command = sampler._command_tensor(lay, hist_vectors)
    past = torch.stack([torch.stack([p for _, p, _ in h]) for h in sampler.history])  # (B, K-1, n, P)
    if guided:
        past = torch.cat([past, past])
    noisy = lay.kind == NOISY
    x = torch.stack([torch.randn(n, P, generator=g) for g in generators]).to(dev)

    def velocity(xin, t):
        video = scatter_video(lay, torch.cat([past, xin[:, None]], 1))
        out = model(lay.ids, lay.kind, lay.order, lay.spatial, video, noisy.float() * (t / 1000.0).to(dev), mask,
                    cond=lay.cond, command=command)
        return out.velocity[noisy].view(R, n, P)

    scheduler = flow_scheduler()
    x = guided_euler(velocity, x, scheduler, sampler.steps, sampler.guidance)
    return unpatchify(x[:, None], cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.patch)[:, 0]
