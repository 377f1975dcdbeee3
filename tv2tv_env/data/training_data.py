"""Training batches for the world model from a recorded dataset's latent cache.

All windows of a split are held in memory (float16 latents: about 4 KB a chunk, 270 MB for
65k chunks) and the batch of a training step is a pure function of the step: epoch e is a
permutation of all windows drawn from (seed, e). That is what lets `--resume` continue
with exactly the data an uninterrupted run would have seen.

`balance` > 0 draws windows in proportion to their chunks' mean inverse action frequency to
that power instead (1: every action about equally often, 0.5: square-root balancing), so
that rare actions (Doom's strafes are 4-5% of the chunks) are seen more. Each step's batch
is then drawn with replacement from (seed, step): still a pure function of the step.
`ends` > 1 multiplies the weight of every window holding a real episode end (a death) by
that much, so that the end head and the text of dying are seen more (deaths are 1-2% of
take_cover's chunks, 0.4% of Doom's); drawn the same way.

With a language prior (`commands=True`, a model whose config has `command_dim`), every batch
also carries `commands` (B, K, dim): the sentence vector of each chunk's text
(`paraphrase.CommandBank`). `batch_fn` then hides some chunks' tokens (`text_hide`: only the
vector is given) and swaps some vectors for a training paraphrase of the chunk's action
(`paraphrase`, tokens hidden too), drawn from (seed, step) like everything else.

`mirror` > 0 (a game whose card says it is mirror-symmetric, and `tv2tv encode --mirror` run)
gives that share of each batch's windows mirrored left-right: the latents of the flipped
frames, "left" and "right" swapped in the text, the action and its command vector
(games/mirror.py). Also drawn from (seed, step).
"""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from ..errors import UserError
from ..games import get_card
from ..games.mirror import check_mirror_symmetric, mirror_permutation, mirror_text
from .dataset import BadEpisode, episode_paths, log, read_meta
from .latents import CACHE_META, cache_dir, read_latent_episode


class LatentWindows:
    def __init__(self, data_dir, vae_dir, tokenizer, window: int, split: str = "train", progress: bool = False,
                 commands: bool = False, encoder=None, mirror: bool = False):
        meta = read_meta(data_dir)
        cache = cache_dir(data_dir, vae_dir)
        if not (cache / CACHE_META).is_file():
            raise UserError(f"no latent cache for this VAE in {data_dir}; run `tv2tv encode --data {data_dir} "
                            f"--vae {vae_dir}` first")
        mirror_cache = cache_dir(data_dir, vae_dir, mirror=True) if mirror else None
        if mirror:
            check_mirror_symmetric(meta["game"], "`tv2tv train`")
            if not (mirror_cache / CACHE_META).is_file():
                raise UserError(f"no mirrored latent cache in {data_dir}; run `tv2tv encode --data {data_dir} "
                                f"--vae {vae_dir} --mirror` first")
        self.window = window
        self.latents, self.texts, self.reward, self.terminated, self.names = [], [], [], [], []
        self.actions, self.strings = [], []
        # the mirrored twin of each episode (mirror=True): latents of the flipped frames, text, action ids
        self.m_latents, self.m_texts, self.m_strings, self.m_actions = [], [], [], []
        perm = torch.from_numpy(mirror_permutation(get_card(meta["game"]).action_names)) if mirror else None
        index, missing = [], []
        for path in tqdm(episode_paths(data_dir), desc=f"load {split} latents", disable=not progress):
            try:
                le = read_latent_episode(data_dir, cache, path, meta)
            except BadEpisode as e:
                log.warning("skipping bad episode %s: %s", path.name, e)
                continue
            except UserError:  # not encoded yet (an interrupted `tv2tv encode`): use the rest
                missing.append(path.name)
                continue
            if split != "all" and le.episode.attrs.get("split") != split:
                continue
            if len(le) < window:
                continue
            if mirror:
                try:
                    twin = read_latent_episode(data_dir, mirror_cache, path, meta)
                except UserError:
                    missing.append(path.name + " (mirrored)")
                    continue
                strings = [mirror_text(t) for t in le.episode.text]
                self.m_latents.append(torch.from_numpy(twin.chunks))
                self.m_strings.append(strings)
                self.m_texts.append([tokenizer.encode(t) for t in strings])
                self.m_actions.append(perm[torch.from_numpy(le.episode.action.astype(np.int64))])
            i = len(self.latents)
            self.latents.append(torch.from_numpy(le.chunks))
            self.texts.append([tokenizer.encode(t) for t in le.episode.text])
            self.strings.append(list(le.episode.text))
            self.reward.append(torch.from_numpy(le.episode.reward.astype(np.float32)))
            self.terminated.append(torch.from_numpy(le.episode.terminated.astype(np.float32)))
            self.actions.append(torch.from_numpy(le.episode.action.astype(np.int64)))
            self.names.append(path.name)
            index += [(i, s) for s in range(len(le) - window + 1)]
        if missing:
            log.warning("%d episodes of %s have no latents yet and are left out; run `tv2tv encode --data %s "
                        "--vae %s%s` to include them", len(missing), data_dir, data_dir, vae_dir,
                        " (and again with --mirror)" if mirror else "")
        if not index:
            raise UserError(f"no {split} episodes of at least {window} chunks in {data_dir}")
        self.index = np.array(index)
        self.bank = None
        if commands:
            from ..paraphrase import CommandBank

            self.bank = CommandBank(meta["game"], get_card(meta["game"]).action_names,
                                    [t for ep in self.strings + self.m_strings for t in ep], encoder)

    def __len__(self):
        return len(self.index)

    def get(self, rows, mirrored=None) -> dict:
        """The batch of windows `rows` (indices into the window index); `mirrored`: a flag per
        row, True for the window's mirrored twin (needs mirror=True)."""
        mirrored = [False] * len(rows) if mirrored is None else [bool(m) for m in mirrored]
        if any(mirrored) and not self.m_latents:
            raise ValueError("mirrored windows need LatentWindows(..., mirror=True)")
        lat, texts, rew, term, act, strings = [], [], [], [], [], []
        for r, m in zip(rows, mirrored):
            e, s = self.index[r]
            w = slice(s, s + self.window)
            lat.append((self.m_latents if m else self.latents)[e][w].float())
            texts.append((self.m_texts if m else self.texts)[e][w])
            strings.append((self.m_strings if m else self.strings)[e][w])
            rew.append(self.reward[e][w])
            term.append(self.terminated[e][w])
            act.append((self.m_actions if m else self.actions)[e][w])
        out = {"latents": torch.stack(lat), "texts": texts, "reward": torch.stack(rew), "terminated": torch.stack(term),
               "actions": torch.stack(act)}
        if self.bank is not None:
            out["commands"] = torch.stack([self.bank.lookup(t) for t in strings])
        return out

    def augment(self, batch: dict, rng: np.random.Generator, text_hide: float, paraphrase: float) -> dict:
        """Hide tokens / swap in paraphrase vectors (module docstring); needs `commands=True`."""
        B, K = batch["latents"].shape[:2]
        u = rng.random((B, K))
        texts = [list(row) for row in batch["texts"]]
        commands = batch["commands"].clone()
        for b in range(B):
            for k in range(K):
                if u[b, k] < paraphrase:
                    commands[b, k] = self.bank.paraphrase(int(batch["actions"][b, k]), rng)
                if u[b, k] < paraphrase + text_hide:
                    texts[b][k] = []
        return {**batch, "texts": texts, "commands": commands}

    def window_weights(self, balance: float, ends: float = 1.0) -> np.ndarray:
        """Sampling probability of each window: the mean over its chunks of
        (1 / frequency of the chunk's action in this split) ** balance, times `ends` for a
        window that holds a real episode end, normalised."""
        counts = np.bincount(torch.cat(self.actions).numpy())
        inv = np.zeros(len(counts))
        inv[counts > 0] = (counts[counts > 0] / counts.sum()) ** -float(balance)
        per_chunk = [inv[a.numpy()] for a in self.actions]
        w = np.array([per_chunk[e][s:s + self.window].mean() for e, s in self.index])
        has_end = np.array([bool(self.terminated[e][s:s + self.window].any()) for e, s in self.index])
        w = np.where(has_end, w * float(ends), w)
        return w / w.sum()

    def batch_fn(self, batch_size: int, seed: int = 0, balance: float = 0.0, text_hide: float = 0.0,
                 paraphrase: float = 0.0, mirror: float = 0.0, ends: float = 1.0):
        """step -> the global batch of that step (a pure function of step and seed);
        `balance` > 0: windows drawn by `window_weights(balance)`; `text_hide`, `paraphrase`,
        `mirror`: see the module docstring."""
        if balance < 0:
            raise UserError(f"--balance-actions must be 0 (off) or positive, got {balance}")
        if ends < 1:
            raise UserError(f"--oversample-ends must be 1 (off) or more, got {ends}")
        if not 0 <= mirror <= 1:
            raise UserError(f"--mirror is the share of mirrored windows, from 0 to 1; got {mirror}")
        if mirror and not self.m_latents:
            raise ValueError("mirrored windows need LatentWindows(..., mirror=True)")
        rows_of = self._rows_fn(batch_size, seed, balance, ends)

        def batch(step):
            flips = np.random.default_rng([seed, step, 2]).random(batch_size) < mirror if mirror else None
            return self.get(rows_of(step), flips)

        if not (text_hide or paraphrase):
            return batch
        if self.bank is None:
            raise ValueError("text_hide and paraphrase need command vectors: LatentWindows(..., commands=True)")
        return lambda step: self.augment(batch(step), np.random.default_rng([seed, step, 1]), text_hide, paraphrase)

    def _rows_fn(self, batch_size: int, seed: int, balance: float, ends: float = 1.0):
        n = len(self.index)
        if balance > 0 or ends > 1:
            p = self.window_weights(balance, ends)
            return lambda step: np.random.default_rng([seed, step]).choice(n, batch_size, p=p).tolist()

        def fn(step: int) -> list:
            rows = []
            pos = step * batch_size
            while len(rows) < batch_size:
                epoch, offset = divmod(pos, n)
                perm = np.random.default_rng([seed, epoch]).permutation(n)
                take = perm[offset:offset + batch_size - len(rows)]
                rows += take.tolist()
                pos += len(take)
            return rows

        return fn

    def fixed_batches(self, batch_size: int, count: int, seed: int = 1) -> list:
        """`count` fixed batches (for held-out evaluation), the same every time."""
        perm = np.random.default_rng(seed).permutation(len(self.index))
        return [self.get(perm[i * batch_size:(i + 1) * batch_size].tolist()) for i in range(count)
                if i * batch_size < len(perm)]
