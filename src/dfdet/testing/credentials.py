"""C2PA-signed test files made locally: a self-made certificate chain (a root CA and a signer, EC P-256, made with
``cryptography``) and ``c2pa-python``'s Builder. For tests and demonstrations only: real signers use certificates
from a CA on the C2PA trust list."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AI_GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


@dataclass(frozen=True)
class SigningChain:
    """A signer's certificate chain (signer + root, PEM), its private key (PEM) and the root certificate (PEM)."""

    chain: bytes
    key: bytes
    root: bytes


def make_chain(days: int = 30) -> SigningChain:
    """A root CA and a signer certificate it issued (digital signature, e-mail protection EKU, as C2PA requires)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dfdet tests")
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), org])

    now = datetime.datetime.now(datetime.timezone.utc)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def cert(subject: str, issuer: x509.Name, public: Any, ca: bool) -> x509.CertificateBuilder:
        usage = x509.KeyUsage(not ca, False, False, False, False, ca, ca, False, False)
        b = x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer).public_key(public)
        b = b.serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        b = b.not_valid_after(now + datetime.timedelta(days=days))
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        b = b.add_extension(usage, critical=True)
        return b.add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)

    root = cert("dfdet test root", name("dfdet test root"), root_key.public_key(), True).sign(root_key, hashes.SHA256())
    leaf = cert("dfdet test signer", root.subject, key.public_key(), False)
    leaf = leaf.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    leaf = leaf.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False)
    signed = leaf.sign(root_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    private = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return SigningChain(signed.public_bytes(pem) + root.public_bytes(pem), private, root.public_bytes(pem))


def sign(
    data: bytes,
    mime: str,
    chain: SigningChain,
    source_type: str | None = AI_GENERATED,
    agent: str = "TinyDiffusion 0.1",
    generator: str = "dfdet-test-generator",
) -> bytes:
    """``data`` with a C2PA manifest signed by ``chain``: one ``c2pa.created`` action of ``source_type`` by
    ``agent``, claimed by ``generator`` 1.0."""
    import c2pa

    action: dict[str, Any] = {"action": "c2pa.created", "softwareAgent": {"name": agent}}
    if source_type:
        action["digitalSourceType"] = source_type
    manifest = {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": "signed test file",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain.chain, chain.key, None))
    out = io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(signer, mime, io.BytesIO(data), out)
    return out.getvalue()


def tamper(path: Path, out: Path, offset: int = -300) -> Path:
    """A copy of ``path`` with one byte flipped at ``offset`` (the image data of a small signed JPEG)."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    out.write_bytes(bytes(data))
    return out
