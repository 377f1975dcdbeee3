"""`tv2tv export --minari`: a recorded dataset written as a Minari dataset and read back."""
import sys

import numpy as np
import pytest

from tv2tv_cli import main
from tv2tv_env.data.dataset import iter_episodes


def test_export_minari_round_trip(doom_data, tmp_path, monkeypatch, capsys):
    minari = pytest.importorskip("minari")
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)
    assert main(["export", "--minari", str(doom_data), "--dataset-id", "tv2tv/doom-test-v0",
                 "--out", str(tmp_path)]) == 0
    assert '"episodes": 3' in capsys.readouterr().out

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    ds = minari.load_dataset("tv2tv/doom-test-v0")
    recorded = [ep for _, ep in iter_episodes(doom_data, "all")]
    assert ds.total_episodes == len(recorded) == 3
    assert ds.total_steps == sum(len(ep) for ep in recorded)
    assert "TV2TV Gym" in ds.storage.metadata["author"]
    for got, ep in zip(ds.iterate_episodes(), recorded):
        T = len(ep)
        assert len(got) == T
        assert got.observations.shape == (T + 1, *ep.start_frame.shape)
        np.testing.assert_array_equal(got.observations[0], ep.start_frame)
        np.testing.assert_array_equal(got.observations[1:], ep.frames[:, -1])  # lossless
        assert list(got.actions) == list(ep.text)
        assert all(ds.action_space.contains(t) for t in got.actions)
        np.testing.assert_array_equal(got.rewards, ep.reward)
        np.testing.assert_array_equal(got.terminations, ep.terminated)
        assert got.truncations[-1] == bool(ep.attrs["truncated"]) and not got.truncations[:-1].any()
        np.testing.assert_array_equal(got.infos["frames"][1:], ep.frames)
        np.testing.assert_array_equal(got.infos["action_id"][1:], ep.action)


def test_export_without_minari_is_a_one_line_hint(doom_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "minari", None)  # `import minari` now raises ImportError
    rc = main(["export", "--minari", str(doom_data), "--dataset-id", "tv2tv/doom-v0", "--out", str(tmp_path)])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == ['tv2tv export: error: minari is not installed: pip install -e ".[minari]"']
    assert not any(tmp_path.iterdir())
