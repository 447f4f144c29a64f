"""Small release trees of real mp4 files (and frame folders), for tests and smoke runs: FaceForensics++, Celeb-DF,
DFDC, DeeperForensics-1.0, WildDeepfake, FFIW-10K, UADFV, DF40, a folder of your own.

Every frame holds a real face: the astronaut photo of scikit-image (Eileen Collins), cropped around her face with a
window that moves and zooms from frame to frame. In fake clips the face region is altered (blurred, brightened and
colour-shifted inside an ellipse). A few distinct clips are encoded with PyAV (H.264) and copied to every path.
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pandas as pd

FACE_CENTRE = (224.0, 117.0)  # x, y of the face in skimage.data.astronaut() (512 x 512)
FACE_SIZE = (87.0, 110.0)  # its width and height
MOUTH = (222.0, 146.0, 17.0)  # x, y of the centre between her lips and half the mouth's width (dlib's 68 points)


def face_frames(
    count: int = 6,
    size: tuple[int, int] = (160, 128),
    fake: bool = False,
    seed: int = 0,
    mouth: Any = None,
    speed: float = 1.0,
) -> list:
    """Frames (H, W, 3) uint8 of a moving, zooming real face.

    Args:
        count: number of frames.
        size: frame ``(width, height)``.
        fake: alter the face region.
        seed: varies the motion.
        mouth: (count,) mouth opening in [0, 1] per frame (an open mouth is drawn between the lips); None: as
            photographed.
        speed: scales the motion per frame (1: sparse sampled frames; about 0.1 for 25 fps video).

    Returns:
        ``count`` RGB frames; the face is about 45-60 % of the frame height.
    """
    from skimage.data import astronaut

    photo = astronaut()
    rng = np.random.default_rng(seed)
    width, height = size
    phase = rng.uniform(0, 2 * np.pi)
    frames = []
    for k in range(count):
        t = k * speed
        image = photo if mouth is None else open_mouth(photo, float(mouth[k]))
        window_h = 215 + 20 * np.sin(phase + 0.9 * t)  # zoom
        window_w = window_h * width / height
        cx = FACE_CENTRE[0] + 25 * np.cos(phase + 0.7 * t)  # the face moves within the frame
        cy = max(window_h / 2, FACE_CENTRE[1] + 12 * np.sin(phase + 0.5 * t))
        x0, y0 = cx - window_w / 2, cy - window_h / 2
        scale = width / window_w
        affine = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float32)
        frame = cv2.warpAffine(image, affine, (width, height), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
        if fake:
            centre = ((FACE_CENTRE[0] - x0) * scale, (FACE_CENTRE[1] + 8 - y0) * scale)
            axes = (FACE_SIZE[0] * 0.38 * scale, FACE_SIZE[1] * 0.38 * scale)
            frame = alter_face(frame, centre, axes)
        frames.append(frame)
    return frames


def open_mouth(image: np.ndarray, opening: float) -> np.ndarray:
    """The astronaut photo with her mouth opened by ``opening`` in [0, 1]: a dark, soft-edged cavity between the
    lips, up to 20 px tall."""
    mask = np.zeros(image.shape[:2], np.float32)
    x, y, half_width = MOUTH
    half_height = 1.0 + 9.0 * float(np.clip(opening, 0, 1))
    cv2.ellipse(
        mask, (round(x), round(y + half_height / 3)), (round(half_width), round(half_height)), 0, 0, 360, 1.0, -1
    )
    soft = cv2.GaussianBlur(mask, (0, 0), 1.2)[..., None]
    out = image.astype(np.float32) * (1 - soft) + np.array([45, 18, 22], np.float32) * soft
    return out.round().astype(np.uint8)


def alter_face(frame: np.ndarray, centre: tuple[float, float], axes: tuple[float, float]) -> np.ndarray:
    """Blurs, brightens and colour-shifts an elliptic face region with a soft edge (a crude "manipulation")."""
    mask = np.zeros(frame.shape[:2], np.float32)
    cv2.ellipse(mask, (round(centre[0]), round(centre[1])), (round(axes[0]), round(axes[1])), 0, 0, 360, 1.0, -1)
    soft = cv2.GaussianBlur(mask, (0, 0), 2.0)[..., None]
    altered = cv2.GaussianBlur(frame, (0, 0), 1.5).astype(np.float32) * np.array([1.12, 1.0, 0.9], np.float32) + 8
    out = frame.astype(np.float32) * (1 - soft) + np.clip(altered, 0, 255) * soft
    return out.round().astype(np.uint8)


def write_video(
    path: str | Path,
    frames: list,
    fps: int = 10,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    faststart: bool = False,
) -> Path:
    """Encodes RGB frames as an H.264 mp4 with PyAV, with an optional mono AAC sound track.

    Args:
        path: the mp4 to write.
        frames: RGB frames (H, W, 3) uint8.
        fps: frame rate.
        audio: mono waveform in [-1, 1] at ``sample_rate``; None writes a video without sound.
        sample_rate: rate of ``audio`` in Hz.
        faststart: put the index (``moov``) before the data, as streaming encoders do: such a file cut short still
            opens, announces every frame and decodes up to the cut (a truncated download).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=options) as container:  # whatever the name says
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "ultrafast"}
        sound = container.add_stream("aac", rate=sample_rate) if audio is not None else None
        if sound is not None:
            sound.layout = "mono"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
        if sound is not None:
            track = av.AudioFrame.from_ndarray(np.asarray(audio, np.float32)[None], format="fltp", layout="mono")
            track.sample_rate = sample_rate
            track.pts, track.time_base = 0, Fraction(1, sample_rate)  # the AAC priming gets negative times: an edit
            # list skips it on decoding, so the sound lines up with the pictures (else it lags by 1024 samples)
            container.mux(sound.encode(track))
            container.mux(sound.encode(None))
    return path


class ClipBank:
    """Encodes a few distinct clips once and copies them to many paths.

    Args:
        cache: folder for the encoded clips.
        frames: frames per clip.
        variants: distinct real clips (and as many fake ones).
    """

    def __init__(self, cache: str | Path, frames: int = 6, variants: int = 2) -> None:
        self.cache = Path(cache)
        self.frames = frames
        self.variants = variants

    def clip(self, fake: bool, variant: int = 0) -> Path:
        path = self.cache / f"{'fake' if fake else 'real'}_{variant % self.variants}.mp4"
        if not path.is_file():
            write_video(path, face_frames(self.frames, fake=fake, seed=variant % self.variants))
        return path

    def put(self, path: str | Path, fake: bool, variant: int = 0) -> Path:
        """Copies a real or fake clip to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.clip(fake, variant), path)
        return path


def write_corrupt(path: str | Path) -> Path:
    """A file with an mp4 name and garbage content."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    return path


def make_ffpp(root: str | Path, bank: ClipBank, methods: tuple[str, ...] = ("Deepfakes", "FaceSwap"),
              compression: str = "c23") -> Path:  # fmt: skip
    """FaceForensics++: originals 000-005, fakes a_b and b_a of the pairs (000,001) train, (002,003) val,
    (004,005) test, official-style split files in ``<root>/splits``."""
    root = Path(root)
    pairs = {"train": [["000", "001"]], "val": [["002", "003"]], "test": [["004", "005"]]}
    for split, plist in pairs.items():
        (root / "splits").mkdir(parents=True, exist_ok=True)
        (root / "splits" / f"{split}.json").write_text(json.dumps(plist))
        for i, (a, b) in enumerate(plist):
            for vid in (a, b):
                bank.put(root / f"original_sequences/youtube/{compression}/videos/{vid}.mp4", False, int(vid))
            for method in methods:
                for vid in (f"{a}_{b}", f"{b}_{a}"):
                    bank.put(root / f"manipulated_sequences/{method}/{compression}/videos/{vid}.mp4", True, i)
    return root


def make_celebdf(root: str | Path, bank: ClipBank) -> Path:
    """Celeb-DF v2: identities id0-id3, two YouTube-real videos, a test list with one real and one fake."""
    root = Path(root)
    for i in range(4):
        bank.put(root / f"Celeb-real/id{i}_0000.mp4", False, i)
        bank.put(root / f"Celeb-synthesis/id{i}_id{(i + 1) % 4}_0000.mp4", True, i)
    for i in range(2):
        bank.put(root / f"YouTube-real/{i:05d}.mp4", False, i)
    (root / "List_of_testing_videos.txt").write_text("1 YouTube-real/00001.mp4\n0 Celeb-synthesis/id3_id0_0000.mp4\n")
    return root


def make_dfdc(root: str | Path, bank: ClipBank) -> Path:
    """DFDC: one training part (2 originals, 3 fakes) and a public test folder with ``labels.csv``."""
    root = Path(root)
    part = root / "dfdc_train_part_0"
    meta = {"aaa.mp4": {"label": "REAL", "split": "train", "original": None}}
    meta["bbb.mp4"] = {"label": "REAL", "split": "train", "original": None}
    meta.update({f"f{i}.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"} for i in range(2)})
    meta["f2.mp4"] = {"label": "FAKE", "split": "train", "original": "bbb.mp4"}
    for i, (name, entry) in enumerate(meta.items()):
        bank.put(part / name, entry["label"] == "FAKE", i)
    (part / "metadata.json").write_text(json.dumps(meta))
    bank.put(root / "test/ttt.mp4", False, 0)
    bank.put(root / "test/uuu.mp4", True, 1)
    (root / "test/labels.csv").write_text("filename,label\nttt.mp4,0\nuuu.mp4,1\n")
    return root


def write_frames(folder: str | Path, fake: bool, count: int = 3, seed: int = 0) -> Path:
    """A face sequence as frame images ``folder/0000.png`` ... (releases of face sequences: WildDeepfake, DF40)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(face_frames(count, fake=fake, seed=seed)):
        cv2.imwrite(str(folder / f"{i:04d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


def make_deeperforensics(root: str | Path, bank: ClipBank) -> Path:
    """DeeperForensics-1.0: fakes ``end_to_end/00{0..4}_M00{1,2}`` listed in train/val/test (M001's fakes are in
    train and test once each: a tie; M002's twice in train, once in val), 2 real videos per actor, an actor M003
    without fakes."""
    root = Path(root)
    lists = {"train": ["000_M001.mp4", "001_M002.mp4", "004_M002"], "val": ["002_M002"], "test": ["003_M001.mp4"]}
    (root / "lists/splits").mkdir(parents=True, exist_ok=True)
    for split, names in lists.items():
        (root / f"lists/splits/{split}.txt").write_text("".join(f"{n}\n" for n in names))
        for i, name in enumerate(names):
            bank.put(root / "manipulated_videos/end_to_end" / Path(name).with_suffix(".mp4"), True, i)
    for actor in ("M001", "M002", "M003"):
        for k, light in enumerate(("light_up", "light_down")):
            bank.put(root / f"source_videos/{actor}/{light}/camera_front/{actor}_{light}.mp4", False, k)
    return root


def make_wilddeepfake(root: str | Path, per_folder: int = 2, frames: int = 3) -> Path:
    """WildDeepfake unpacked: ``{real,fake}_{train,test}/<n>/<kind>/<seq>/*.png``, ``per_folder`` videos each."""
    root = Path(root)
    for kind in ("real", "fake"):
        for split in ("train", "test"):
            for n in range(per_folder):
                write_frames(root / f"{kind}_{split}/{n}/{kind}/0", kind == "fake", frames, seed=n)
    return root


def make_ffiw(root: str | Path, bank: ClipBank) -> Path:
    """FFIW-10K: one source and one target video per split."""
    root = Path(root)
    for i, split in enumerate(("train", "val", "test")):
        bank.put(root / f"source/{split}/{i:05d}.mp4", False, i)
        bank.put(root / f"target/{split}/{i:05d}.mp4", True, i)
    (root / "label_json").mkdir(parents=True, exist_ok=True)
    return root


def make_uadfv(root: str | Path, bank: ClipBank, count: int = 3) -> Path:
    """UADFV: ``real/000k.mp4`` and ``fake/000k_fake.mp4``."""
    root = Path(root)
    for i in range(count):
        bank.put(root / f"real/{i:04d}.mp4", False, i)
        bank.put(root / f"fake/{i:04d}_fake.mp4", True, i)
    return root


def make_df40(root: str | Path, real_root: str | Path, frames: int = 3) -> tuple[Path, Path]:
    """DF40: ``simswap/{ff,cdf}/frames/<video>/`` and ``heygen/<video>/`` fakes, and a folder of real sequences."""
    root, real_root = Path(root), Path(real_root)
    write_frames(root / "simswap/ff/frames/000_003", True, frames, seed=0)
    write_frames(root / "simswap/cdf/frames/id0_id1_0000", True, frames, seed=1)
    write_frames(root / "heygen/clip_a", True, frames, seed=2)
    for i in range(2):
        write_frames(real_root / f"frames/{i:03d}", False, frames, seed=i)
    return root, real_root


def stems_by_split(prefix: str, per_split: int) -> dict[str, list[str]]:
    """``per_split`` file stems ``<prefix>000``, ``<prefix>001`` ... for each split, as the folder layout's hash
    (10 % val, 10 % test, :func:`dfdet.data.layouts.split_by_hash`) assigns them."""
    from dfdet.data.layouts import split_by_hash

    found: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    i = 0
    while min(len(v) for v in found.values()) < per_split:
        stem = f"{prefix}{i:03d}"
        split = split_by_hash(stem, 0.1, 0.1)
        if len(found[split]) < per_split:
            found[split].append(stem)
        i += 1
    return found


def make_folder(root: str | Path, bank: ClipBank, per_split: int = 1, corrupt: bool = True) -> Path:
    """``real/`` and ``fake/``: for each split, ``per_split`` real videos and their fakes (same stem, so the same
    split), one real image, and optionally a corrupt ``real/broken.mp4`` and an empty ``fake/empty.mp4``."""

    root = Path(root)
    found = stems_by_split("clip", per_split)
    for j, stem in enumerate(sorted(s for v in found.values() for s in v)):
        bank.put(root / f"real/{stem}.mp4", False, j)
        bank.put(root / f"fake/{stem}.mp4", True, j)
    image = face_frames(1, size=(200, 160), seed=3)[0]
    cv2.imwrite(str(root / f"real/{found['train'][0]}_still.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if corrupt:
        write_corrupt(root / "real/broken.mp4")
        (root / "fake/empty.mp4").write_bytes(b"")
    return root


def write_talking_face(
    path: str | Path,
    seconds: float = 3.0,
    fps: int = 25,
    size: tuple[int, int] = (192, 144),
    seed: int = 0,
    shift: int = 0,
) -> tuple[Path, float]:
    """A real face whose mouth opens with a synthetic voice (the lips leading it by 1-2 frames), as an mp4 with sound.

    Args:
        path: the mp4 to write.
        seconds, fps, size: length, frame rate and frame ``(width, height)``.
        seed: varies the voice, the words and the motion.
        shift: delay the sound by this many frames (negative: advance it), speech filling both ends.

    Returns:
        The path and the lips' lead in frames.
    """
    from dfdet.data.audio.synthetic.attacks import channel
    from dfdet.data.audio.synthetic.speech import SAMPLE_RATE, sample_speaker
    from dfdet.data.av.talking import ClipSpec, Take

    rng = np.random.default_rng(seed)
    spec = ClipSpec(fps=fps, seconds=seconds)
    take = Take(sample_speaker(rng), rng.uniform(*spec.lead), spec, rng)
    frames = face_frames(len(take.mouth), size=size, seed=seed, mouth=take.mouth, speed=2.5 / fps)
    return write_video(path, frames, fps, take.cut(channel(take.clean, rng, 0.5), shift), SAMPLE_RATE), take.lead


AV_KINDS = ("both", "face", "voice")  # what a fake of make_av_folder manipulates, cycling over the fakes


def make_av_folder(
    root: str | Path, per_split: int = 2, seconds: float = 1.0, fps: int = 10, seed: int = 0
) -> pd.DataFrame:
    """Talking clips with sound in the folder layout, as audio-visual datasets mix manipulations (FakeAVCeleb).

    For each split, ``per_split`` stems; ``real/<stem>.mp4`` is a real face whose mouth opens with a bona fide voice
    (the synthetic speech of :mod:`dfdet.data.audio.synthetic`, its envelope driving the mouth as in the built-in
    talking clips of :mod:`dfdet.data.av`), ``fake/<stem>.mp4`` manipulates the face, the voice (a vocoded spoof of
    the same words) or both, cycling over :data:`AV_KINDS`. One more real video of the test split,
    ``real/silent<k>.mp4``, has no sound track.

    Returns:
        One row per video written: ``file`` (relative to ``root``), ``split``, ``label``, ``kind`` (``real``, or what
        the fake manipulates).
    """
    from dfdet.data.audio.synthetic.attacks import channel, gl_vocoder
    from dfdet.data.audio.synthetic.speech import SAMPLE_RATE, sample_speaker
    from dfdet.data.av.talking import ClipSpec, Take
    from dfdet.data.layouts import split_by_hash

    root = Path(root)
    rng = np.random.default_rng(seed)
    stems = stems_by_split("talk", per_split)
    videos = []
    spec = ClipSpec(fps=fps, seconds=max(seconds, 2 / fps))
    for j, stem in enumerate(sorted(s for v in stems.values() for s in v)):
        kind = AV_KINDS[j % len(AV_KINDS)]
        take = Take(sample_speaker(rng), rng.uniform(*spec.lead), spec, rng)
        seed_channel = int(rng.integers(2**31))
        voice = take.cut(channel(take.clean, np.random.default_rng(seed_channel), 0.5))
        spoof = take.cut(channel(gl_vocoder(take.clean, rng), np.random.default_rng(seed_channel), 0.5))
        frames = len(take.mouth)
        write_video(root / f"real/{stem}.mp4", face_frames(frames, seed=j, mouth=take.mouth), fps, voice, SAMPLE_RATE)
        fake_face = face_frames(frames, fake=kind != "voice", seed=j, mouth=take.mouth)
        write_video(root / f"fake/{stem}.mp4", fake_face, fps, voice if kind == "face" else spoof, SAMPLE_RATE)
        split = split_by_hash(stem, 0.1, 0.1)
        videos += [
            {"file": f"real/{stem}.mp4", "split": split, "label": 0, "kind": "real"},
            {"file": f"fake/{stem}.mp4", "split": split, "label": 1, "kind": kind},
        ]
    silent = next(f"silent{k}" for k in range(1000) if split_by_hash(f"silent{k}", 0.1, 0.1) == "test")
    write_video(root / f"real/{silent}.mp4", face_frames(max(2, round(seconds * fps)), seed=99), fps)
    videos.append({"file": f"real/{silent}.mp4", "split": "test", "label": 0, "kind": "real"})
    return pd.DataFrame(videos)
