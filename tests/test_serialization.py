"""Safe checkpoint readers: weights_only, the restricted unpickler, corrupt files."""

from __future__ import annotations

import io
import os
import pickle
import struct
import tarfile
from collections import OrderedDict

import pytest
import torch
from safetensors.torch import save_file

from zoo_core.errors import UnsafePickleError, WeightsError
from zoo_core.serialization import read_checkpoint, restricted_torch_load, sha256_file


class Payload:
    """Unpickling this with the standard unpickler calls os.system and writes a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class SmallNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4)
        self.register_buffer("scratch", torch.zeros(2), persistent=False)


def test_code_in_a_pickle_never_runs(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pth"
    torch.save({"state": SmallNet().state_dict(), "payload": Payload(marker)}, path)
    with pytest.raises(pickle.UnpicklingError):  # the plain way refuses it ...
        torch.load(path, weights_only=True)
    state = read_checkpoint(path)  # ... ours reads the tensors without running the payload
    assert not marker.exists()
    assert set(state) == {"state.conv.weight", "state.conv.bias", "state.bn.weight", "state.bn.bias",
                          "state.bn.running_mean", "state.bn.running_var", "state.bn.num_batches_tracked"}


def test_plain_pickle_with_os_system_at_top_level(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pkl"
    torch.save(Payload(marker), path)
    with pytest.raises(WeightsError, match="holds no tensors"):
        read_checkpoint(path)
    assert not marker.exists()


def test_raw_pickle_and_legacy_format_never_run_code(tmp_path):
    """torch's legacy reader calls ``pickle_module.load`` itself (magic number first): a raw
    pickle (``pickle.dump``, as NVIDIA's network pickles) or a legacy-format file must not run."""
    marker = tmp_path / "executed"
    raw = tmp_path / "network.pkl"
    with raw.open("wb") as handle:
        pickle.dump({"G_ema": Payload(marker), "w": torch.zeros(2)}, handle)
    assert set(read_checkpoint(raw)) == {"w"}  # the tensors come back, the payload stays inert
    legacy = tmp_path / "legacy.pth"
    torch.save({"state": SmallNet().state_dict(), "payload": Payload(marker)}, legacy,
               _use_new_zipfile_serialization=False)
    assert "state.conv.weight" in read_checkpoint(legacy)
    assert not marker.exists()


def write_legacy_tar(path, state, extra=None):
    """A checkpoint in torch's pre-1.0 ``.tar`` layout (members sys_info, storages, tensors,
    pickle), written by hand as torch's legacy reader parses it: float32 tensors only."""
    storages, tensors = io.BytesIO(), io.BytesIO()
    pickle.dump(len(state), storages, protocol=2)
    pickle.dump(len(state), tensors, protocol=2)
    for i, tensor in enumerate(state.values()):
        tensor = tensor.detach().float().contiguous()
        pickle.dump((i, "cpu", torch.FloatStorage), storages, protocol=2)
        storages.write(struct.pack("<q", tensor.numel()) + tensor.numpy().tobytes())
        pickle.dump((1000 + i, i, torch.FloatTensor), tensors, protocol=2)
        tensors.write(struct.pack("<i", tensor.dim()) + b"\0" * 4)
        tensors.write(struct.pack(f"<{tensor.dim()}q", *tensor.shape) + struct.pack(f"<{tensor.dim()}q", *tensor.stride()))
        tensors.write(struct.pack("<q", 0))
    pickle.dump([], storages, protocol=2)  # no storage views

    class Ref:  # stands for tensor i in the main pickle (a persistent id)
        def __init__(self, i):
            self.i = i

    class TarPickler(pickle.Pickler):
        def persistent_id(self, obj):
            return str(1000 + obj.i) if isinstance(obj, Ref) else None

    body = io.BytesIO()
    TarPickler(body, protocol=2).dump({"state_dict": {k: Ref(i) for i, k in enumerate(state)}, **(extra or {})})
    members = {"sys_info": pickle.dumps({"protocol_version": 1001, "little_endian": True}),
               "storages": storages.getvalue(), "tensors": tensors.getvalue(), "pickle": body.getvalue()}
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_legacy_tar_checkpoint_is_read_without_running_code(tmp_path):
    """torch's weights-only reader refuses the pre-1.0 tar layout and advises weights_only=False;
    ours reads its tensors through the restricted unpickler and never passes that advice on."""
    marker = tmp_path / "executed"
    state = {"conv.weight": torch.randn(4, 3, 3, 3), "conv.bias": torch.arange(4.0)}
    path = tmp_path / "old.tar"
    write_legacy_tar(path, state, extra={"payload": Payload(marker)})
    with pytest.raises(RuntimeError, match="legacy .tar format"):
        torch.load(path, weights_only=True)
    loaded = read_checkpoint(path)
    assert not marker.exists()
    assert set(loaded) == {"state_dict.conv.weight", "state_dict.conv.bias"}
    assert all(torch.equal(loaded[f"state_dict.{k}"], v) for k, v in state.items())
    path.write_bytes(path.read_bytes()[:2048])  # truncated inside the storages member
    with pytest.raises(WeightsError) as caught:
        read_checkpoint(path)
    assert str(caught.value).startswith(f"{path}:") and "weights_only" not in str(caught.value)


@pytest.mark.parametrize("zipfile", [True, False], ids=["zip", "legacy"])
def test_whole_module_pickle_both_formats(tmp_path, zipfile):
    """SimSwap's arcface_checkpoint.tar: a pickled nn.Module, once wrapped in DataParallel."""
    net = SmallNet()
    path = tmp_path / "arcface_checkpoint.tar"
    torch.save({"model": torch.nn.DataParallel(net)}, path, _use_new_zipfile_serialization=zipfile)
    state = read_checkpoint(path)
    assert list(state) == [f"model.module.{k}" for k in net.state_dict()]  # no non-persistent buffer
    for key, value in net.state_dict().items():
        assert torch.equal(state[f"model.module.{key}"], value)
    direct = tmp_path / "module.pt"
    torch.save(net, direct, _use_new_zipfile_serialization=zipfile)
    assert list(read_checkpoint(direct)) == list(net.state_dict())


def test_training_checkpoint_with_optimizer_state(tmp_path):
    """foamliu/SimSwap's old arcface_checkpoint.tar also pickles an SGD optimizer whose state is
    a defaultdict (a stand-in here): its SETITEMS must not break reading the model."""
    net = SmallNet()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    path = tmp_path / "arcface_checkpoint.tar"
    torch.save({"epoch": 3, "model": torch.nn.DataParallel(net), "optimizer": optimizer}, path)
    state = read_checkpoint(path)
    model_keys = [k for k in state if k.startswith("model.module.")]
    assert model_keys == [f"model.module.{k}" for k in net.state_dict()]


def test_module_pickle_becomes_inert_objects(tmp_path):
    path = tmp_path / "m.pt"
    torch.save(SmallNet(), path)
    loaded = restricted_torch_load(path)
    assert type(loaded).__name__ == "SmallNet" and not isinstance(loaded, torch.nn.Module)
    assert loaded.pickled_name.endswith("SmallNet")


def test_module_pickle_can_be_refused(tmp_path):
    path = tmp_path / "m.pt"
    torch.save(SmallNet(), path)
    with pytest.raises(UnsafePickleError, match="m.pt: not a plain state dict"):
        read_checkpoint(path, allow_module_pickle=False)


def test_plain_state_dict_and_nested_dicts(tmp_path):
    path = tmp_path / "ckpt.pt"
    g = OrderedDict(w=torch.ones(2, 2))
    torch.save({"g_ema": g, "latent_avg": torch.zeros(512), "args": {"size": 1024}}, path)
    state = read_checkpoint(path)
    assert set(state) == {"g_ema.w", "latent_avg"}
    assert torch.equal(state["g_ema.w"], g["w"])


def test_safetensors_and_corrupt_files(tmp_path):
    good = tmp_path / "w.safetensors"
    save_file({"a": torch.arange(4.0)}, str(good))
    assert torch.equal(read_checkpoint(good)["a"], torch.arange(4.0))
    data = good.read_bytes()
    truncated = tmp_path / "t.safetensors"
    truncated.write_bytes(data[: len(data) - 5])
    with pytest.raises(WeightsError, match="t.safetensors: truncated or corrupt"):
        read_checkpoint(truncated)
    pth = tmp_path / "t.pth"
    torch.save({"a": torch.zeros(1000)}, pth)
    pth.write_bytes(pth.read_bytes()[:300])
    with pytest.raises(WeightsError, match="t.pth: truncated or corrupt"):
        read_checkpoint(pth)
    empty = tmp_path / "e.pth"
    empty.touch()
    with pytest.raises(WeightsError, match="e.pth: empty file"):
        read_checkpoint(empty)
    with pytest.raises(WeightsError, match="no such file"):
        read_checkpoint(tmp_path / "missing.pth")


def test_sha256_file(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
