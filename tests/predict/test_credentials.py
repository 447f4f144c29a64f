"""Content credentials: files signed here with c2pa-python's Builder and a self-made certificate chain (a root CA and
a signer, made with ``cryptography``), a tampered copy, an unsigned file, XMP and EXIF tags; reported beside the
scores, never mixed in."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from dfdet.predict.credentials import ContentCredentials

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
    b"<Iptc4xmpExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
    b"</Iptc4xmpExt:DigitalSourceType></rdf:Description></rdf:RDF></x:xmpmeta>"
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An AI-declared JPEG signed with C2PA, its tampered copy, the root certificate, an unsigned JPEG with XMP and
    EXIF tags."""
    from dfdet.testing.credentials import make_chain, sign, tamper

    folder = tmp_path_factory.mktemp("credentials")
    chain = make_chain()
    source = io.BytesIO()
    Image.new("RGB", (96, 64), (200, 40, 30)).save(source, "JPEG", quality=90)
    out = {"signed": folder / "signed.jpg", "root": folder / "root.pem"}
    out["signed"].write_bytes(sign(source.getvalue(), "image/jpeg", chain))
    out["tampered"] = tamper(out["signed"], folder / "tampered.jpg")  # image data after the manifest: hash mismatch
    out["root"].write_bytes(chain.root)
    exif = Image.Exif()
    exif[0x0131] = "GIMP 2.10"
    out["unsigned"] = folder / "unsigned.jpg"
    Image.new("RGB", (96, 64), (30, 40, 200)).save(out["unsigned"], exif=exif, xmp=XMP)
    return out


def test_a_signed_file_reports_its_manifest(files: dict[str, Path]) -> None:
    found = ContentCredentials().read(files["signed"], "image/jpeg")
    c2pa = found["c2pa"]
    assert c2pa["present"] and c2pa["validation_state"] == "Valid" and not c2pa["trusted"]  # no trust list given
    assert c2pa["failures"] == []
    assert (c2pa["signer"]["common_name"], c2pa["signer"]["issuer"]) == ("dfdet test signer", "dfdet tests")
    assert c2pa["claim_generator"] == "dfdet-test-generator 1.0"
    assert c2pa["actions"] == [{"action": "c2pa.created", "digital_source_type": "trainedAlgorithmicMedia",
                                "software_agent": "TinyDiffusion 0.1", "when": None}]  # fmt: skip
    assert c2pa["generative"] and "AI-generated" in found["summary"] and "not on a trust list" in found["summary"]
    trusted = ContentCredentials(trust_anchors=files["root"]).read(files["signed"], "image/jpeg")["c2pa"]
    assert trusted["validation_state"] == "Trusted" and trusted["trusted"]


def test_a_tampered_copy_fails_validation(files: dict[str, Path], tmp_path: Path) -> None:
    found = ContentCredentials(trust_anchors=files["root"]).read(files["tampered"], "image/jpeg")
    assert found["c2pa"]["validation_state"] == "Invalid" and not found["c2pa"]["trusted"]
    assert "assertion.dataHash.mismatch" in [f["code"] for f in found["c2pa"]["failures"]]
    assert "INVALID" in found["summary"] and "changed after signing" in found["summary"]
    data = bytearray(files["signed"].read_bytes())
    start = data.find(b"jumb")  # inside the manifest store: a damaged manifest is reported, never raised
    data[start + 200 : start + 260] = bytes(60)
    damaged = tmp_path / "damaged.jpg"
    damaged.write_bytes(bytes(data))
    broken = ContentCredentials().read(damaged, "image/jpeg")["c2pa"]
    assert broken["present"] and broken["validation_state"] == "Invalid" and "unreadable C2PA data" in broken["error"]


def test_an_unsigned_file_reports_its_tags(files: dict[str, Path], tmp_path: Path) -> None:
    found = ContentCredentials().read(files["unsigned"], "image/jpeg")
    assert found["c2pa"] == {"present": False}
    assert found["xmp"]["digital_source_type"] == "compositeWithTrainedAlgorithmicMedia"
    assert found["exif"]["software"] == "GIMP 2.10"
    assert found["summary"].startswith("no C2PA manifest; XMP declares compositeWithTrainedAlgorithmicMedia")
    wav = tmp_path / "noise.wav"
    wav.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40))  # audio: no EXIF, no manifest, no error
    assert ContentCredentials().read(wav, "audio/wav")["c2pa"]["present"] is False


def test_credentials_stand_beside_the_scores(files: dict[str, Path], image_onnx: Path, faces: object) -> None:
    from dfdet.predict import Predictor, load_model

    model = load_model(image_onnx)
    plain = Predictor(model, faces).predict(files["signed"]).result  # type: ignore[arg-type]
    read = Predictor(model, faces, credentials=ContentCredentials()).predict(files["signed"]).result  # type: ignore[arg-type]
    assert "content_credentials" not in plain and read["content_credentials"]["c2pa"]["generative"]
    same = ("fake_probability", "verdict", "reason", "label", "threshold")
    assert {k: read[k] for k in same} == {k: plain[k] for k in same}  # declared AI, and the score is unchanged
