"""Self-signed certificates for TLS tests, made with the openssl tool (scripts/setup installs it)."""

import subprocess
from pathlib import Path


def self_signed(directory: Path, *, common_name: str, alt_name: str) -> tuple[Path, Path]:
    """A certificate that is its own CA, for ``alt_name`` (``IP:127.0.0.1``, ``DNS:localhost``): (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={common_name}",
         "-addext", f"subjectAltName={alt_name}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def hashed_folder(directory: Path, *certificates: Path) -> Path:
    """``directory`` holding ``certificates`` under their subjects' hashes, as OpenSSL looks
    authorities up in a folder (``SSL_CERT_DIR``, ``/etc/ssl/certs``)."""
    directory.mkdir(parents=True, exist_ok=True)
    for number, certificate in enumerate(certificates):
        subject_hash = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(certificate)], check=True,
                                      capture_output=True, text=True, timeout=60).stdout.strip()
        (directory / f"{subject_hash}.{number}").write_bytes(certificate.read_bytes())
    return directory
