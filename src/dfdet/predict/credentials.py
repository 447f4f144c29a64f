"""Content credentials of a file: C2PA manifests (read and validated with ``c2pa-python``), the IPTC digital source
type in XMP, and the EXIF / PNG ``Software`` tag.

These say what the file's maker *declares* about it (a camera's signed capture, "made with a generative model"),
which is the first thing a careful analyst checks. They are reported beside the detector scores and never change
them: a valid manifest proves who signed the file and that it was not changed since, not that its content is true;
a missing or stripped manifest proves nothing. (Not to be confused with :mod:`dfdet.provenance`, which says what a
*model* was trained on.)

``c2pa-python`` stays behind this one module. Validation runs offline: remote manifests and OCSP are never fetched.
Without ``trust_anchors`` a correctly signed manifest validates as ``Valid`` (its signer is not on a trust list);
with them, a signer chaining to one of the anchors gives ``Trusted``; a file changed after signing gives
``Invalid`` with the failure codes (``assertion.dataHash.mismatch`` ...).
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

log = logging.getLogger("dfdet.predict")

IPTC_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
# IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/) in words; the generative ones first.
SOURCE_TYPES = {
    "trainedAlgorithmicMedia": "made by a trained generative model (AI-generated)",
    "compositeWithTrainedAlgorithmicMedia": "a composite including AI-generated elements",
    "algorithmicMedia": "made by an algorithm without training data",
    "compositeSynthetic": "a composite of synthetic elements",
    "algorithmicallyEnhanced": "a capture enhanced by an algorithm",
    "dataDrivenMedia": "made from data (e.g. a visualisation)",
    "digitalArt": "digital art made by a person",
    "humanEdits": "a capture edited by a person",
    "compositeCapture": "a composite of captures",
    "computationalCapture": "a capture by computational photography",
    "digitalCapture": "a digital capture (camera or microphone)",
    "screenCapture": "a screen capture",
    "virtualRecording": "a recording of a virtual scene",
    "negativeFilm": "a scan of a negative film",
    "positiveFilm": "a scan of a positive film",
    "print": "a scan of a print",
}
GENERATIVE = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})
# XMP: attribute form (Iptc4xmpExt:DigitalSourceType="...") or element form (<Iptc4xmpExt:DigitalSourceType>...).
XMP_SOURCE = re.compile(
    rb"DigitalSourceType\s*(?:=\s*[\"']([^\"']{1,300})[\"']|>\s*([^<]{1,300})<|[^>]{0,200}?rdf:resource\s*=\s*"
    rb"[\"']([^\"']{1,300})[\"'])"
)
EXIF_SOFTWARE = 0x0131
XMP_LIMIT = 4 * 1024 * 1024  # XMP packets read at most; they are small in practice


def source_type(value: str | None) -> str | None:
    """The short name of an IPTC digital source type URI (``.../trainedAlgorithmicMedia`` -> the last part)."""
    if not value:
        return None
    return value.strip().rstrip("/").rsplit("/", 1)[-1] or None


class ContentCredentials:
    """Reads the content credentials of files (one instance per predictor or suite).

    Args:
        trust_anchors: a PEM file of root certificates whose signers are ``Trusted``; None: no trust list, so a
            correct signature is ``Valid`` at best.
        enabled: false skips reading (the result then has no ``content_credentials``).
    """

    def __init__(self, trust_anchors: str | os.PathLike | None = None, enabled: bool = True) -> None:
        self.enabled = enabled
        self.trust_anchors = None if trust_anchors is None else Path(trust_anchors).read_text()

    def context(self) -> Any:
        """A c2pa context: offline validation, the trust anchors when given. A new one per file (0.5 ms), so that
        prediction threads share no native state."""
        import c2pa

        settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
        if self.trust_anchors:
            settings["trust"] = {"trust_anchors": self.trust_anchors}
        return c2pa.Context(c2pa.Settings.from_dict(settings))

    def read(self, path: str | os.PathLike, mime: str | None = None) -> dict[str, Any]:
        """``c2pa`` (the manifest, or ``present: false``), ``xmp`` and ``exif`` fields, and a ``summary`` in words."""
        path = Path(path)
        out: dict[str, Any] = {"c2pa": self.read_c2pa(path, mime)}
        out.update(read_metadata(path))
        out["summary"] = summary(out)
        return out

    def read_c2pa(self, path: Path, mime: str | None) -> dict[str, Any]:
        """The active manifest: validation state and failures, signer, claim generator, actions and their digital
        source types; ``present: false`` without one; ``error`` when the store is unreadable."""
        import c2pa

        try:
            with self.context() as context, open(path, "rb") as f:
                reader = c2pa.Reader.try_create(mime or "", f, context=context)
                if reader is None:
                    return {"present": False}
                with reader:
                    store = json.loads(reader.json())
                    state = reader.get_validation_state()
        except c2pa.C2paError as exc:  # a damaged manifest store, or a format c2pa does not read
            name = type(exc).__name__.lstrip("_").removeprefix("C2pa")
            if name == "NotSupported":
                return {"present": False, "note": "c2pa does not read this file format"}
            log.info("Unreadable C2PA data in %s: %s", path.name, exc)
            return {"present": True, "validation_state": "Invalid", "error": f"unreadable C2PA data ({name})"}
        return describe_store(store, state)


def describe_store(store: dict[str, Any], state: str | None) -> dict[str, Any]:
    """The facts of a manifest store (c2pa's JSON) a person needs, from its active manifest."""
    label = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(label) or {}
    failures = [
        {"code": s.get("code"), "explanation": s.get("explanation")}
        for s in store.get("validation_status") or []
        if s.get("code") != "signingCredential.untrusted"  # reported as the state (Valid, not Trusted)
    ]
    sig = manifest.get("signature_info") or {}
    generator = manifest.get("claim_generator_info") or []
    actions = []
    for assertion in manifest.get("assertions") or []:
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for a in (assertion.get("data") or {}).get("actions") or []:
                agent = a.get("softwareAgent")
                actions.append({
                    "action": a.get("action"),
                    "digital_source_type": source_type(a.get("digitalSourceType")),
                    "software_agent": agent.get("name") if isinstance(agent, dict) else agent,
                    "when": a.get("when"),
                })  # fmt: skip
    types = sorted({a["digital_source_type"] for a in actions if a["digital_source_type"]})
    return {
        "present": True,
        "validation_state": state,
        "trusted": state == "Trusted",
        "failures": failures,
        "signer": {
            "common_name": sig.get("common_name"),
            "issuer": sig.get("issuer"),
            "time": sig.get("time"),
            "alg": sig.get("alg"),
        },  # fmt: skip
        "claim_generator": ", ".join(
            " ".join(str(g[k]) for k in ("name", "version") if g.get(k)) for g in generator if isinstance(g, dict)
        )
        or manifest.get("claim_generator"),
        "title": manifest.get("title"),
        "actions": actions,
        "digital_source_types": types,
        "generative": any(t in GENERATIVE for t in types),
        "manifests": len(store.get("manifests") or {}),
    }


def read_metadata(path: Path) -> dict[str, Any]:
    """``xmp``: the IPTC digital source type in the file's XMP packet; ``exif``: the EXIF (or PNG) ``Software`` tag.

    Only images are opened with PIL (lazily: headers, no pixels); other files are searched for an XMP packet in
    their first bytes.
    """
    from PIL import Image

    xmp: bytes = b""
    software = None
    try:
        with Image.open(path) as img:  # headers only
            software = img.getexif().get(EXIF_SOFTWARE) or img.info.get("Software")
            raw = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp") or b""
            xmp = raw.encode() if isinstance(raw, str) else bytes(raw)
    except Exception:  # noqa: BLE001 - not an image PIL reads (video, audio) or a damaged one: search the bytes
        with open(path, "rb") as f:
            head = f.read(XMP_LIMIT)
        start = head.find(b"<x:xmpmeta")
        xmp = head[start : head.find(b"</x:xmpmeta>", start) + 12] if start >= 0 else b""
    match = XMP_SOURCE.search(xmp[:XMP_LIMIT])
    value = next((g for g in match.groups() if g), b"").decode("utf-8", "replace") if match else None
    if isinstance(software, bytes):
        software = software.decode("utf-8", "replace")
    return {
        "xmp": {"digital_source_type": source_type(value)},
        "exif": {"software": str(software).strip("\x00 ")[:200] if software else None},
    }


def summary(found: dict[str, Any]) -> str:
    """The credentials in one sentence for people."""
    c2pa, parts = found["c2pa"], []
    if not c2pa.get("present"):
        parts.append("no C2PA manifest")
    elif c2pa.get("error") or c2pa.get("validation_state") == "Invalid":
        codes = ", ".join(f["code"] for f in c2pa.get("failures") or [] if f.get("code"))
        parts.append(f"C2PA manifest INVALID ({c2pa.get('error') or codes or 'validation failed'}): the file was "
                     "changed after signing or the manifest is damaged, so its claims cannot be relied on")  # fmt: skip
    else:
        signer = c2pa["signer"]
        who = " / ".join(str(v) for v in (signer.get("common_name"), signer.get("issuer")) if v) or "unknown signer"
        trust = "trusted signer" if c2pa.get("trusted") else "signer not on a trust list"
        text = f"C2PA manifest {c2pa.get('validation_state')} ({trust}: {who}), made with {c2pa.get('claim_generator')}"
        for t in c2pa.get("digital_source_types") or []:
            text += f"; declared {t}: {SOURCE_TYPES.get(t, 'unknown source type')}"
        parts.append(text)
    declared = found["xmp"]["digital_source_type"]
    if declared:
        parts.append(f"XMP declares {declared}: {SOURCE_TYPES.get(declared, 'unknown source type')}")
    if found["exif"]["software"]:
        parts.append(f"software tag: {found['exif']['software']}")
    return "; ".join(parts)


__all__ = ["ContentCredentials", "describe_store", "read_metadata", "source_type", "summary"]
