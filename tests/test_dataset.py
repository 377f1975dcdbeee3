"""The on-disk format: validation names bad episodes; loaders skip them; nothing is lost."""
import shutil

import h5py
import numpy as np
import pytest

from tv2tv_env.data import dataset
from tv2tv_env.errors import UserError
from tv2tv_env.games import make_game
from tv2tv_env.data.record import record


@pytest.fixture
def copy(doom_data, tmp_path):
    dst = tmp_path / "data"
    shutil.copytree(doom_data, dst)
    return dst


def test_truncated_file_is_reported_and_skipped(copy):
    paths = dataset.episode_paths(copy)
    victim = paths[1]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    _, rep = dataset.validate(copy)
    assert [name for name, _ in rep.bad] == [victim.name]
    assert "truncated or corrupted" in rep.bad[0][1]
    names = [p.name for p, _ in dataset.iter_episodes(copy)]
    assert victim.name not in names and len(names) == len(paths) - 1
    windows = list(dataset.iter_windows(copy, 2, split="all", shuffle=False))
    assert windows and all(w["episode"] != victim.name for w in windows)


def test_flipped_frame_bytes_fail_the_checksum(copy):
    victim = dataset.episode_paths(copy)[0]
    with h5py.File(victim, "r+") as f:
        text = f["text"][()]
        text[0] = b"something else entirely"
        f["text"][0] = text[0]
    _, rep = dataset.validate(copy)
    assert rep.bad == [(victim.name, "checksum mismatch in text")]


def test_corrupted_compressed_chunk_is_caught(copy):
    """Garbage written into the middle of the frame data: HDF5's fletcher32 or our sha256 sees it."""
    victim = dataset.episode_paths(copy)[0]
    raw = bytearray(victim.read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 64] = bytes(64)
    victim.write_bytes(bytes(raw))
    _, rep = dataset.validate(copy)
    assert [n for n, _ in rep.bad] == [victim.name]


def test_leftover_tmp_is_ignored(copy):
    (copy / "episodes" / "ep_000099.h5.tmp").write_bytes(b"half an episode")
    _, rep = dataset.validate(copy)
    assert rep.bad == [] and rep.incomplete == ["ep_000099.h5.tmp"]
    assert len(list(dataset.iter_episodes(copy))) == 3


def test_episode_from_another_frame_size_is_named(copy, tmp_path):
    other = tmp_path / "small"
    record("doom", 1, 2, other, height=32, width=32, progress=False)
    src = dataset.episode_paths(other)[0]
    shutil.copy(src, copy / "episodes" / "ep_000050.h5")
    _, rep = dataset.validate(copy)
    assert rep.bad[0][0] == "ep_000050.h5" and "shape" in rep.bad[0][1]


def test_recording_into_a_dataset_of_another_game_is_refused(copy):
    before = sorted(p.name for p in dataset.episode_paths(copy))
    with pytest.raises(UserError, match="new --out"):
        record("crafter", 1, 2, copy, progress=False)
    assert sorted(p.name for p in dataset.episode_paths(copy)) == before


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(UserError, match="cannot write"):
        dataset.prepare_output(blocker / "sub", make_game("crafter"))


def test_missing_and_corrupt_meta(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        dataset.read_meta(tmp_path / "nope")
    (tmp_path / "d").mkdir()
    with pytest.raises(UserError, match="not a TV2TV dataset"):
        dataset.read_meta(tmp_path / "d")
    (tmp_path / "d" / "dataset.json").write_text("{broken")
    with pytest.raises(UserError, match="corrupt"):
        dataset.read_meta(tmp_path / "d")


def test_windows_are_consecutive_chunks(doom_data):
    eps = {p.name: ep for p, ep in dataset.iter_episodes(doom_data)}
    for w in dataset.iter_windows(doom_data, 3, split="all", seed=1):
        ep, s = eps[w["episode"]], w["start"]
        assert np.array_equal(w["frames"], ep.frames[s:s + 3])
        assert w["text"] == ep.text[s:s + 3]
        prev = ep.start_frame if s == 0 else ep.frames[s - 1, -1]
        assert np.array_equal(w["prev_frame"], prev)


def test_window_order_follows_the_seed(doom_data):
    a = [(w["episode"], w["start"]) for w in dataset.iter_windows(doom_data, 2, split="all", seed=5)]
    b = [(w["episode"], w["start"]) for w in dataset.iter_windows(doom_data, 2, split="all", seed=5)]
    c = [(w["episode"], w["start"]) for w in dataset.iter_windows(doom_data, 2, split="all", seed=6)]
    assert a == b and a != c and sorted(a) == sorted(c)


def test_splits_partition_the_episodes(doom_data):
    train = {p.name for p, _ in dataset.iter_episodes(doom_data, "train", frames=False)}
    held = {p.name for p, _ in dataset.iter_episodes(doom_data, "heldout", frames=False)}
    assert train and held and not train & held
    assert train | held == {p.name for p in dataset.episode_paths(doom_data)}
