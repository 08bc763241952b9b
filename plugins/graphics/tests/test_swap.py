"""swap() on real aligned crops: shape, range, what changes, determinism, and one-line errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from zoo_core.errors import InputError, NoFaceError
from zoo_core.protocols import SwapModel


def as_batch(*crops: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0


def test_swap_changes_the_face_and_keeps_the_rest(model, astronaut_pair):
    source, target = astronaut_pair
    assert isinstance(model, SwapModel)
    out = model.swap(as_batch(source), as_batch(target))
    assert out.shape == (1, 3, 512, 512) and out.dtype == torch.float32
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    changed = (out[0] - as_batch(target)[0]).abs().amax(0) > 2 / 255
    assert 0.1 < float(changed.float().mean()) < 0.5  # the face, not the whole crop
    assert not changed[:64].any() and not changed[:, :64].any() and not changed[:, -64:].any()
    centre = changed[200:400, 180:330]  # eyes, nose and mouth
    assert float(centre.float().mean()) > 0.5


def test_swap_is_deterministic_and_per_pair(model, astronaut_pair):
    source, target = astronaut_pair
    single = model.swap(as_batch(source), as_batch(target))
    batch = model.swap(as_batch(source, target), as_batch(target, source))
    assert torch.equal(single[0], batch[0])
    assert torch.equal(model.swap(as_batch(source), as_batch(target)), single)
    assert not torch.equal(batch[0], batch[1])


def test_identity_code_is_the_pose_free_landmark_layout(model, astronaut_pair):
    face = astronaut_pair[0]
    turned = cv2.warpAffine(face, cv2.getRotationMatrix2D((256, 256), 8, 0.92), (512, 512), borderMode=cv2.BORDER_REFLECT)
    full = model.identity(as_batch(face, turned, face))
    codes = full[:, :136]  # the second half: the landmarks in crop pixels, reused by swap
    assert full.shape == (3, 272) and torch.equal(codes[0], codes[2])
    moved = np.abs(model.landmarks(face, "a") - model.landmarks(turned, "b")).mean() / 512
    assert moved > 0.02  # the landmarks moved by 8 degrees and 8% ...
    assert float((codes[0] - codes[1]).abs().mean()) < moved / 10  # ... the code hardly


def test_bad_input_is_one_clear_error(model, astronaut_pair):
    source, target = astronaut_pair
    with pytest.raises(InputError, match="differ in shape"):
        model.swap(as_batch(source), as_batch(target)[:, :, :256, :256])
    with pytest.raises(InputError, match=r"\(N, 3, R, R\)"):
        model.swap(as_batch(source)[:, :, :256], as_batch(target)[:, :, :256])
    sky = np.zeros_like(target)
    sky[:] = (90, 140, 220)
    with pytest.raises(NoFaceError, match="target crop 0: .*no face") as error:
        model.swap(as_batch(source), as_batch(sky))
    assert "\n" not in str(error.value)
