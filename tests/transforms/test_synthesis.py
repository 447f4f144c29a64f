"""Fake synthesis: self-blended images (SBI) and blended pairs (Face X-ray) on a real face and on synthetic faces."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.data import astronaut

from dfdet.transforms.masks import MEAN_FACE_68, face_hull_points, fill_polygon, fit_mean_face, five_from_68
from dfdet.transforms.synthesis import blend_pair, colour_transfer, self_blend

# Hand-annotated on skimage's astronaut (512², checked by drawing them): eye centres, nose tip, mouth corners.
ASTRONAUT_5 = np.array([(203, 101), (247, 103), (225, 126), (203, 142), (246, 141)], np.float32)
CROP_X0, CROP_Y0 = 135, 40  # a 1.3x face-box crop like the preprocessing's, 170 high and 180 wide (not square)


@pytest.fixture(scope="module")
def face() -> tuple[np.ndarray, np.ndarray]:
    """Real face crop (170, 180, 3) uint8 and its 5 landmarks in crop pixels."""
    crop = np.ascontiguousarray(astronaut()[CROP_Y0 : CROP_Y0 + 170, CROP_X0 : CROP_X0 + 180])
    return crop, ASTRONAUT_5 - np.array([CROP_X0, CROP_Y0], np.float32)


def landmarks_of(kind: int, five: np.ndarray) -> np.ndarray:
    """5 points as given, or a 68-point set: the mean face fitted to them, jittered a little (deterministically)."""
    if kind == 5:
        return five
    return fit_mean_face(five) + np.random.default_rng(1).normal(0, 1.0, (68, 2)).astype(np.float32)


def hull_region(landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return fill_polygon(face_hull_points(landmarks, shape), shape[:2]).astype(bool)


def test_fit_mean_face_inverts_five_from_68() -> None:
    affine = np.array([[90.0, 8.0], [-5.0, 110.0]], np.float32)
    face68 = MEAN_FACE_68 @ affine.T + np.array([40.0, 25.0], np.float32)
    np.testing.assert_allclose(fit_mean_face(five_from_68(face68)), face68, atol=1e-3)


@pytest.mark.parametrize("kind", [5, 68])
def test_face_hull_points(face: tuple[np.ndarray, np.ndarray], kind: int) -> None:
    image, five = face
    landmarks = landmarks_of(kind, five)
    hull = face_hull_points(landmarks, image.shape)
    assert hull.dtype == np.float32 and hull.ndim == 2 and hull.shape[1] == 2 and len(hull) >= 3
    assert (hull >= 0).all() and (hull[:, 0] <= image.shape[1]).all() and (hull[:, 1] <= image.shape[0]).all()
    assert all(cv2.pointPolygonTest(hull, tuple(map(float, p)), False) >= 0 for p in five)
    if kind == 68:  # the convex hull of the 68 points themselves
        assert cv2.contourArea(hull) == pytest.approx(cv2.contourArea(cv2.convexHull(landmarks)), rel=1e-4)
    taller = face_hull_points(landmarks, image.shape, forehead=0.3)
    assert cv2.contourArea(taller) > 1.1 * cv2.contourArea(hull)
    assert taller[:, 1].min() < hull[:, 1].min() - 10  # the forehead extends upwards
    np.testing.assert_array_equal(face_hull_points(landmarks.reshape(-1), image.shape), hull)  # manifest layout


def test_face_hull_points_rejects_bad_landmarks() -> None:
    with pytest.raises(ValueError, match="5 or 68"):
        face_hull_points(np.zeros((7, 2)), (64, 64))
    with pytest.raises(ValueError, match="NaN"):
        face_hull_points(np.full((5, 2), np.nan), (64, 64))
    with pytest.raises(ValueError, match="outside"):
        face_hull_points(ASTRONAUT_5 + 1000, (64, 64))


@pytest.mark.parametrize("kind", [5, 68])
def test_self_blend_shapes_and_face_mask(face: tuple[np.ndarray, np.ndarray], kind: int) -> None:
    image, five = face
    landmarks = landmarks_of(kind, five)
    inside = hull_region(landmarks, image.shape)
    nose = tuple(np.round(five[2]).astype(int))[::-1]
    coverage = []
    for seed in range(8):
        out = self_blend(image, landmarks, np.random.default_rng(seed), blend_ratios=(1.0,), forehead_p=0.0)
        assert out.fake.shape == image.shape and out.fake.dtype == np.uint8
        assert out.mask.shape == image.shape[:2] and out.mask.dtype == np.float32 and out.boundary is None
        assert out.mask.min() >= 0.0 and out.mask.max() <= 1.0 and out.mask[nose] > 0.99
        assert out.mask[[0, 0, -1, -1], [0, -1, 0, -1]].max() == 0.0  # image corners untouched
        outside = out.mask == 0
        assert outside.mean() > 0.3
        np.testing.assert_array_equal(out.fake[outside], image[outside])
        assert np.abs(out.fake[out.mask > 0.9].astype(int) - image[out.mask > 0.9]).mean() > 1.0
        coverage.append((out.mask[inside] > 0.5).mean())
    assert min(coverage) > 0.45 and np.mean(coverage) > 0.6, coverage  # SBI erodes the hull by up to ~12 px


def test_self_blend_ratio_and_boundary(face: tuple[np.ndarray, np.ndarray]) -> None:
    image, five = face
    out = self_blend(image, five, np.random.default_rng(0), blend_ratios=(0.5,), return_boundary=True)
    assert out.mask.max() == pytest.approx(0.5) and "ratio_0.5" in out.ops
    assert out.boundary is not None and out.boundary.dtype == np.float32
    np.testing.assert_allclose(out.boundary, 4 * out.mask * (1 - out.mask), atol=1e-6)
    ratios = {self_blend(image, five, np.random.default_rng(s)).mask.max().round(3) for s in range(40)}
    assert ratios == {0.25, 0.5, 0.75, 1.0}


@pytest.mark.parametrize("synthesise", ["self_blend", "blend_pair"])
def test_deterministic_per_seed_and_global_rng_untouched(face: tuple[np.ndarray, np.ndarray], synthesise: str) -> None:
    image, five = face

    def run(seed: int):  # noqa: ANN202
        rng = np.random.default_rng(seed)
        if synthesise == "self_blend":
            return self_blend(image, five, rng, return_boundary=True)
        return blend_pair(
            image, five, image[:, ::-1].copy(), five_mirrored(five, image.shape[1]), rng, return_boundary=True
        )

    np.random.seed(123)
    random.seed(123)
    numpy_state, python_state = np.random.get_state(), random.getstate()
    before = image.copy()
    first, again, other = run(7), run(7), run(8)
    np.testing.assert_array_equal(image, before)  # the input is never written to
    after = np.random.get_state()
    assert all(
        np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b for a, b in zip(numpy_state, after, strict=True)
    )
    assert random.getstate() == python_state
    assert first.fake.tobytes() == again.fake.tobytes() and first.mask.tobytes() == again.mask.tobytes()
    assert first.boundary.tobytes() == again.boundary.tobytes() and first.ops == again.ops
    assert first.fake.tobytes() != other.fake.tobytes() and first.mask.tobytes() != other.mask.tobytes()


def five_mirrored(five: np.ndarray, width: int) -> np.ndarray:
    """Landmarks of the horizontally flipped image (left and right swap roles)."""
    flipped = np.column_stack([width - 1 - five[:, 0], five[:, 1]])
    return flipped[[1, 0, 2, 4, 3]].astype(np.float32)


@pytest.mark.parametrize(("target_kind", "source_kind"), [(5, 5), (68, 68), (68, 5)])
def test_blend_pair_aligns_and_bounds(face: tuple[np.ndarray, np.ndarray], target_kind: int, source_kind: int) -> None:
    image, five = face
    # The source is the same face shifted by (12, -7) px and dimmed: alignment must undo the shift and colour
    # transfer the dimming, so the fake stays close to the target inside the face.
    shift = np.array([12.0, -7.0], np.float32)
    moved = cv2.warpAffine(
        image, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (200, 190), borderMode=cv2.BORDER_REFLECT
    )
    source = (moved * 0.8).astype(np.uint8)
    out = blend_pair(
        image,
        landmarks_of(target_kind, five),
        source,
        landmarks_of(source_kind, five + shift),
        np.random.default_rng(3),
        return_boundary=True,
    )
    assert out.fake.shape == image.shape and out.fake.dtype == np.uint8 and "colour_transfer" in out.ops
    core = out.mask > 0.99
    assert core.mean() > 0.1
    error = np.abs(out.fake[core].astype(int) - image[core]).mean()
    unaligned = np.abs(moved[:170, :180][core].astype(int) - image[core]).mean()
    assert error < 8 and error < unaligned / 2, (error, unaligned)  # aligned, and the dimming corrected
    outside = out.mask == 0
    np.testing.assert_array_equal(out.fake[outside], image[outside])
    boundary = out.boundary
    assert boundary is not None and boundary.shape == image.shape[:2] and boundary.dtype == np.float32
    np.testing.assert_allclose(boundary, 4 * out.mask * (1 - out.mask), atol=1e-6)
    assert boundary.max() > 0.95  # peaks where the mask crosses 0.5 ...
    edge = np.abs(out.mask - 0.5) < 0.05
    assert edge.any() and boundary[edge].min() > 0.98
    nose = tuple(np.round(five[2]).astype(int))[::-1]
    assert boundary[nose] < 0.02 and boundary[outside].max() == 0.0  # ... and vanishes deep inside and outside


@pytest.mark.parametrize("kind", [5, 68])
def test_faces_cut_by_the_image_border(face: tuple[np.ndarray, np.ndarray], kind: int) -> None:
    """A face partly outside the crop (the source window and the mask then leave the image) still blends cleanly."""
    image, five = face
    cut = np.ascontiguousarray(image[30:, 60:])  # the left cheek, brow and forehead are cut off
    landmarks = landmarks_of(kind, five) - np.array([60, 30], np.float32)
    for seed in range(6):
        out = self_blend(cut, landmarks, np.random.default_rng(seed), blend_ratios=(1.0,))
        assert out.fake.shape == cut.shape and out.mask[:, 0].max() > 0.5  # the mask reaches the border
        np.testing.assert_array_equal(out.fake[out.mask == 0], cut[out.mask == 0])
        pair = blend_pair(cut, landmarks, image, landmarks_of(kind, five), np.random.default_rng(seed))
        assert pair.fake.shape == cut.shape and pair.mask[:, 0].max() > 0.5


def test_colour_transfer_matches_region_statistics(face: tuple[np.ndarray, np.ndarray]) -> None:
    image, five = face
    region = hull_region(five, image.shape)
    dim = (image * [0.6, 0.7, 0.8] + 20).astype(np.uint8)
    corrected = colour_transfer(dim, image, region.astype(np.uint8))

    def stats(x: np.ndarray) -> np.ndarray:
        ycc = cv2.cvtColor(x, cv2.COLOR_RGB2YCrCb)[region].astype(float)
        return np.concatenate([ycc.mean(0), ycc.std(0)])

    assert np.abs(stats(corrected) - stats(image)).max() < 1.5 < np.abs(stats(dim) - stats(image)).max()
    np.testing.assert_array_equal(colour_transfer(image, image, region), image)


def test_inputs_are_validated(face: tuple[np.ndarray, np.ndarray]) -> None:
    image, five = face
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="uint8"):
        self_blend(image.astype(np.float32), five, rng)
    with pytest.raises(ValueError, match="5 or 68"):
        self_blend(image, five[:4], rng)
    with pytest.raises(ValueError, match="source"):
        blend_pair(image, five, image[..., 0], five, rng)


def test_on_synthetic_crops(tmp_path: Path) -> None:
    """Every real crop of the built-in generator self-blends inside its face, with the manifest's flat landmarks."""
    from dfdet.data.synthetic import SyntheticSpec, generate  # imported here: dfdet.data loads Lightning (slow)

    spec = SyntheticSpec(identities=(2, 2, 2), videos_per_identity=1, frames_per_video=2, image_size=96)
    manifest = generate(spec, tmp_path / "synthetic")
    real = manifest[manifest["label"] == 0]
    rng = np.random.default_rng(0)
    for path, landmarks in zip(real["path"], real["landmarks"], strict=True):
        image = cv2.cvtColor(cv2.imread(str(tmp_path / "synthetic" / path)), cv2.COLOR_BGR2RGB)
        flat = np.asarray(landmarks, np.float32)
        out = self_blend(image, flat, rng, blend_ratios=(1.0,))
        nose = tuple(np.round(flat[4:6]).astype(int))[::-1]
        assert out.mask[nose] > 0.9 and out.mask[0, 0] == 0.0
        pair = blend_pair(image, flat, image, flat, rng)
        assert np.abs(pair.fake.astype(int) - image).max() <= 16  # a face blended onto itself barely changes
