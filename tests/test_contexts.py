"""Start contexts on disk: a damaged `contexts.npz` is a clear UserError, never a traceback."""
import re
import zipfile

import numpy as np
import pytest

from tv2tv_env.data.contexts import Contexts, load_contexts, save_contexts
from tv2tv_env.errors import UserError


@pytest.fixture
def saved(tmp_path):
    """A small, well-formed contexts file: 2 contexts of 3 chunks of 4 frames."""
    ctx = Contexts(latents=np.random.default_rng(0).normal(size=(2, 3, 4, 4, 2, 2)).astype(np.float16),
                   frames=np.zeros((2, 4, 8, 8, 3), np.uint8), texts=np.array([["turn left"] * 3] * 2),
                   source=np.array(["ep_000000.h5:0", "ep_000001.h5:5"]), game="doom")
    return ctx, save_contexts(ctx, tmp_path / "contexts.npz")


def test_saved_contexts_read_back_unchanged(saved):
    ctx, path = saved
    back = load_contexts(path)
    np.testing.assert_array_equal(back.latents, ctx.latents)
    assert back.texts.tolist() == ctx.texts.tolist() and back.game == "doom" and len(back) == 2
    assert not list(path.parent.glob(path.name + "*.tmp"))  # written atomically, nothing left over


def damage(path, how: str):
    good = path.read_bytes()
    if how == "truncated":
        path.write_bytes(good[:len(good) // 2])
    elif how == "cut_short_by_a_few_bytes":
        path.write_bytes(good[:-5])
    elif how == "not_an_npz":
        path.write_text("latents,frames\n1,2\n")
    elif how == "a_lone_array":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif how == "missing_a_key":
        with np.load(path) as z:
            kept = {k: z[k] for k in z.files if k != "frames"}
        with open(path, "wb") as f:
            np.savez(f, **kept)
    elif how == "corrupt_member":  # the zip's directory intact, one compressed member overwritten
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("latents.npy")
        data = bytearray(good)
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        data[start:start + 40] = b"\xff" * 40
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("how, says", [("truncated", "not an npz archive"),
                                       ("cut_short_by_a_few_bytes", "not an npz archive"),
                                       ("not_an_npz", "not an npz archive"),
                                       ("a_lone_array", "not an npz archive"),
                                       ("missing_a_key", "lacks frames"),
                                       ("corrupt_member", "not a readable contexts file")])
def test_a_damaged_contexts_file_names_itself_and_the_command_that_remakes_it(saved, how, says):
    _, path = saved
    damage(path, how)
    with pytest.raises(UserError) as e:
        load_contexts(path)
    msg = str(e.value)
    assert str(path) in msg and says in msg
    assert re.search(rf"make it again with `tv2tv contexts --data DATA --checkpoint {re.escape(str(path.parent))}`", msg)


def test_a_missing_contexts_file_says_how_to_make_one(tmp_path):
    with pytest.raises(UserError, match=r"no start contexts at .*contexts\.npz; make them with `tv2tv contexts"):
        load_contexts(tmp_path / "contexts.npz")


def test_inconsistent_shapes_are_named(saved, tmp_path):
    ctx, _ = saved
    bad = Contexts(ctx.latents, ctx.frames[:1], ctx.texts, ctx.source, ctx.game)  # one frame set for two contexts
    path = save_contexts(bad, tmp_path / "bad.npz")
    with pytest.raises(UserError, match=r"inconsistent shapes .*frames \(1, 4, 8, 8, 3\)"):
        load_contexts(path)
