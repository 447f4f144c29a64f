"""Face-region masks from landmarks, for fake synthesis: hull polygons, random deformation, soft blending masks.

Pure functions on numpy arrays; randomness comes only from the ``np.random.Generator`` arguments. Landmarks are
``(K, 2)`` arrays of x, y pixel coordinates (or the manifest's flat ``x1, y1, ..., xK, yK``), with ``K = 5`` (left eye,
right eye, nose tip, left and right mouth corner, "left" meaning the image's left) or ``K = 68`` (dlib / iBUG order).
"""

from __future__ import annotations

import cv2
import numpy as np

# Mean dlib 68-point face in a unit square (OpenFace's alignment template, Amos et al. 2016), x right, y down.
MEAN_FACE_68 = np.array(
    [
        (0.0792, 0.3392),
        (0.0829, 0.4570),
        (0.0968, 0.5756),
        (0.1221, 0.6919),
        (0.1687, 0.8003),
        (0.2398, 0.8957),
        (0.3257, 0.9771),
        (0.4223, 1.0433),
        (0.5318, 1.0608),
        (0.6413, 1.0398),
        (0.7381, 0.9723),
        (0.8244, 0.8896),
        (0.8948, 0.7925),
        (0.9394, 0.6815),
        (0.9611, 0.5622),
        (0.9706, 0.4418),
        (0.9712, 0.3221),
        (0.1638, 0.2492),
        (0.2178, 0.2043),
        (0.2913, 0.1924),
        (0.3675, 0.2036),
        (0.4393, 0.2331),
        (0.5864, 0.2281),
        (0.6602, 0.1959),
        (0.7375, 0.1824),
        (0.8132, 0.1928),
        (0.8708, 0.2353),
        (0.5153, 0.3186),
        (0.5162, 0.3962),
        (0.5171, 0.4738),
        (0.5182, 0.5532),
        (0.4337, 0.6041),
        (0.4755, 0.6208),
        (0.5207, 0.6343),
        (0.5659, 0.6188),
        (0.6071, 0.6016),
        (0.2524, 0.3311),
        (0.2987, 0.3026),
        (0.3557, 0.3030),
        (0.4037, 0.3387),
        (0.3525, 0.3500),
        (0.2968, 0.3505),
        (0.6313, 0.3341),
        (0.6791, 0.2965),
        (0.7360, 0.2947),
        (0.7829, 0.3213),
        (0.7403, 0.3418),
        (0.6850, 0.3437),
        (0.3532, 0.7462),
        (0.4146, 0.7191),
        (0.4777, 0.7068),
        (0.5227, 0.7171),
        (0.5698, 0.7054),
        (0.6352, 0.7157),
        (0.6995, 0.7394),
        (0.6394, 0.8052),
        (0.5764, 0.8354),
        (0.5254, 0.8417),
        (0.4764, 0.8375),
        (0.4138, 0.8100),
        (0.3801, 0.7500),
        (0.4780, 0.7451),
        (0.5234, 0.7489),
        (0.5711, 0.7433),
        (0.6724, 0.7442),
        (0.5725, 0.7766),
        (0.5240, 0.7834),
        (0.4776, 0.7785),
    ],  # fmt: skip
    dtype=np.float32,
)
_CHIN, _BROWS = 8, slice(17, 27)


def five_from_68(landmarks68: np.ndarray) -> np.ndarray:
    """The 5-point landmarks of a 68-point set: eye centres (means of 36-41, 42-47), nose tip (30), mouth corners.

    Args:
        landmarks68: (68, 2) points in dlib order.

    Returns:
        (5, 2) float32 points: left eye, right eye, nose, left mouth corner, right mouth corner.
    """
    lm = np.asarray(landmarks68, dtype=np.float32)
    return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]])


def _homogeneous(points: np.ndarray) -> np.ndarray:
    return np.hstack([points, np.ones((len(points), 1), points.dtype)])


# Least-squares affine fit of the mean face to 5 points, as one (68, 5) linear map: landmarks68 = _FIT @ landmarks5.
_FIT_68_FROM_5 = (
    _homogeneous(MEAN_FACE_68.astype(np.float64))
    @ np.linalg.pinv(_homogeneous(five_from_68(MEAN_FACE_68)).astype(np.float64))
).astype(np.float32)


def as_points(landmarks: np.ndarray) -> np.ndarray:
    """Validates landmarks and returns them as a (K, 2) float32 array (accepts the flat (2K,) manifest layout).

    Raises:
        ValueError: if K is not 5 or 68 or a coordinate is not finite.
    """
    pts = np.asarray(landmarks, dtype=np.float32).reshape(-1, 2)
    if len(pts) not in (5, 68):
        raise ValueError(
            f"Expected 5 or 68 landmarks as (K, 2) or flat (2K,), got array of shape {np.shape(landmarks)}"
        )
    if not np.isfinite(pts).all():
        raise ValueError("Landmarks contain NaN or infinite coordinates")
    return pts


def fit_mean_face(landmarks5: np.ndarray) -> np.ndarray:
    """Places the mean 68-point face on a 5-point face by the least-squares affine map of the 5 points.

    An affine map (rather than a similarity) follows the foreshortening of a turned or tilted head.

    Args:
        landmarks5: (5, 2) points.

    Returns:
        (68, 2) float32 estimated dlib-order landmarks in the same pixel frame.
    """
    return (_FIT_68_FROM_5 @ np.asarray(landmarks5, dtype=np.float32)).astype(np.float32)


def face_hull_points(
    landmarks: np.ndarray, shape: tuple[int, ...], forehead: float = 0.0, clip: bool = True
) -> np.ndarray:
    """Convex face-region polygon from 5 or 68 landmarks, clipped to the image.

    With 68 points this is the convex hull of the landmarks (jaw line and brows bound it). With 5 points the mean
    68-point face is fitted to them (:func:`fit_mean_face`) to extrapolate the jaw, cheeks and brows, and the hull
    covers those and the 5 points. ``forehead > 0`` lifts a copy of the brow points by that fraction of the
    chin-to-brow distance, to take in the forehead as 81-point landmark models do.

    Args:
        landmarks: (K, 2) or flat (2K,) x, y pixel coordinates, K = 5 or 68.
        shape: image shape (H, W, ...).
        forehead: forehead height as a fraction of the chin-to-brow distance (0 for none).
        clip: cut the polygon at the image border; without, it may extend past the border, as the face does (masks
            drawn from it are then not eroded along the border).

    Returns:
        (N, 2) float32 vertices of the convex polygon (N >= 3), inside [0, W] x [0, H] if ``clip``.

    Raises:
        ValueError: on malformed landmarks, or a face wholly outside the image.
    """
    pts = as_points(landmarks)
    face = fit_mean_face(pts) if len(pts) == 5 else pts
    outline = np.concatenate([face, pts]) if len(pts) == 5 else face
    if forehead > 0:
        up = face[_BROWS].mean(0) - face[_CHIN]
        outline = np.concatenate([outline, face[_BROWS] + forehead * up])
    hull = cv2.convexHull(outline.astype(np.float32))
    height, width = shape[:2]
    frame = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    area, clipped = cv2.intersectConvexConvex(hull, frame)
    if clipped is None or area <= 1.0:
        raise ValueError(f"The face hull of the landmarks lies outside the {width}x{height} image")
    return (clipped if clip else hull).reshape(-1, 2).astype(np.float32)


def densify_polygon(polygon: np.ndarray, step: float) -> np.ndarray:
    """Inserts vertices along each edge so that consecutive vertices are at most ``step`` pixels apart.

    Args:
        polygon: (N, 2) closed polygon.
        step: largest spacing in pixels.

    Returns:
        (M, 2) float32 polygon, M >= N, through the same vertices.
    """
    nxt = np.concatenate([polygon[1:], polygon[:1]])
    counts = np.maximum(np.ceil(np.linalg.norm(nxt - polygon, axis=1) / step).astype(np.int64), 1)
    edge = np.repeat(np.arange(len(polygon)), counts)
    t = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)) / counts[edge]
    return (polygon[edge] + (nxt[edge] - polygon[edge]) * t[:, None].astype(np.float32)).astype(np.float32)


def deform_polygon(polygon: np.ndarray, rng: np.random.Generator, amplitude: float, grid: int) -> np.ndarray:
    """Moves the vertices by a smooth random displacement field (Gaussian values on a coarse grid, bilinear between).

    This deforms the region like an elastic / piecewise-affine warp of its mask, at the cost of a few vertices
    instead of a remap of every pixel. Densify the polygon first (:func:`densify_polygon`) to let edges bend.

    Args:
        polygon: (N, 2) vertices.
        rng: random generator.
        amplitude: standard deviation of the displacement in pixels.
        grid: cells per side of the control grid spanning the polygon's bounding box.

    Returns:
        (N, 2) float32 displaced vertices.
    """
    field = rng.standard_normal((grid + 1, grid + 1, 2)).astype(np.float32) * np.float32(amplitude)
    lo, hi = polygon.min(0), polygon.max(0)
    uv = (polygon - lo) / np.maximum(hi - lo, 1e-3) * grid
    ij = np.minimum(uv.astype(int), grid - 1)
    f = uv - ij
    fx, fy = f[:, :1], f[:, 1:]
    i, j = ij[:, 0], ij[:, 1]
    top = field[j, i] * (1 - fx) + field[j, i + 1] * fx
    bottom = field[j + 1, i] * (1 - fx) + field[j + 1, i + 1] * fx
    return (polygon + top * (1 - fy) + bottom * fy).astype(np.float32)


def fill_polygon(polygon: np.ndarray, size: tuple[int, int], scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Rasterises a polygon (sub-pixel vertices) into a binary mask.

    Args:
        polygon: (N, 2) x, y vertices.
        size: (height, width) of the mask.
        scale: x, y factors applied to the vertices first.

    Returns:
        (height, width) uint8 mask of 0 and 1.
    """
    mask = np.zeros(size, np.uint8)
    pts = np.round(polygon * np.asarray(scale, np.float32) * 16).astype(np.int32)
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return mask


def soft_blend_mask(
    polygon: np.ndarray,
    size: tuple[int, int],
    work_scale: tuple[float, float],
    erode_kernel: int,
    blur_kernel: int,
    blur_sigma: float,
) -> np.ndarray:
    """SBI's ``get_blend_mask``: erode the hard mask, Gaussian-blur it, normalise to a peak of 1.

    The mask is rasterised at ``work_scale`` (SBI resizes to a random 192-256 pixel side, which also jitters the aspect
    ratio), eroded with a ``erode_kernel``² box (the same as blurring and keeping only the pixels that stay at 1),
    blurred, and resized back, so kernel sizes are in the working resolution.

    Args:
        polygon: (N, 2) region vertices in the frame of the output mask.
        size: (height, width) of the output mask.
        work_scale: x, y resize factors to the working resolution.
        erode_kernel: odd box side for the erosion (1 for none).
        blur_kernel: odd Gaussian kernel side.
        blur_sigma: Gaussian sigma in working pixels.

    Returns:
        (height, width) float32 mask in [0, 1] (peak 1 unless the region is empty).
    """
    height, width = size
    work = (max(round(height * work_scale[1]), 1), max(round(width * work_scale[0]), 1))
    hard = fill_polygon(polygon, work, (work[1] / width, work[0] / height))
    if erode_kernel > 1:
        eroded = cv2.erode(hard, cv2.getStructuringElement(cv2.MORPH_RECT, (erode_kernel, erode_kernel)))
        hard = eroded if eroded.any() else hard
    soft: np.ndarray = cv2.GaussianBlur(hard.astype(np.float32), (blur_kernel, blur_kernel), blur_sigma)
    peak = soft.max()
    if peak > 0:
        np.multiply(soft, np.float32(1.0 / peak), out=soft)
    if work != size:
        soft = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(soft, 0.0, 1.0, out=soft)


def blur_margin(image_shape: tuple[int, ...]) -> int:
    """Pixels by which :func:`random_soft_mask` can spread a region beyond its polygon, for an image of this shape."""
    return int(np.ceil(13 * max(image_shape[:2]) / 192)) + 2


def random_soft_mask(
    polygon: np.ndarray, size: tuple[int, int], image_shape: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    """:func:`soft_blend_mask` with SBI's random draws, relative to the whole image as in SBI.

    The working resolution resizes the image to a random 192-256 pixel height and width; the erosion box and the blur
    kernel are odd sides in [5, 25] and the blur sigma is in [5, 45] working pixels.

    Args:
        polygon: (N, 2) region vertices in the frame of the output mask.
        size: (height, width) of the output mask (a region of the image, or all of it).
        image_shape: shape (H, W, ...) of the whole image.
        rng: random generator.

    Returns:
        (height, width) float32 mask in [0, 1].
    """
    work_h, work_w = rng.integers(192, 257, size=2)
    erode_kernel, blur_kernel = 2 * rng.integers(2, 13, size=2) + 1
    sigma = float(rng.integers(5, 46))
    scale = (float(work_w) / image_shape[1], float(work_h) / image_shape[0])
    return soft_blend_mask(polygon, size, scale, int(erode_kernel), int(blur_kernel), sigma)
