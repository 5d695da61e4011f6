"""Authenticode signing of Windows modules and MSIs with osslsigncode, optionally timestamped
by an RFC 3161 time-stamp authority so that the signature stays valid after the certificate
expires."""

import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from builder.tools import Tool
from sosqueue.errors import ConfigError, NetworkError, ToolFailed

log = logging.getLogger("sosqueue.builder")

#: What osslsigncode prints when the key is not the certificate's.
_KEY_MISMATCH = ("consistency of a private key", "key values mismatch")
#: What it prints when the time-stamp authority does not answer with a timestamp.
_TIMESTAMP_FAILED = ("timestamping failed", "HTTP failure", "Failed to get data from")


class OsslSigncode(Tool):
    name = "osslsigncode"
    executable = "osslsigncode"
    debian_package = "osslsigncode"

    def sign(self, unsigned: Path, signed: Path, *, certificate: Path, key: Path, description: str,
             timestamp_url: str | None = None, password: str | None = None) -> Path:
        """Sign ``unsigned`` into ``signed``.

        :raises ConfigError: if ``key`` is not the private key of ``certificate``.
        :raises NetworkError: if the time-stamp authority gives no timestamp.
        :raises ToolFailed: for any other failure.
        """
        args = ["sign", "-certs", certificate, "-key", key, "-n", description, "-h", "sha256"]
        if password:
            args += ["-pass", password]
        if timestamp_url:
            args += ["-ts", timestamp_url]
        command = [self.verify(), *map(str, [*args, "-in", unsigned, "-out", signed])]
        result = self._runner(command, capture_output=True, text=True)
        if result.returncode == 0:
            return signed
        said = f"{result.stdout}\n{result.stderr}"
        if any(marker in said for marker in _KEY_MISMATCH):
            raise ConfigError(f"the key {key} does not belong to the certificate {certificate}; "
                              "pass the matching pair with --sign-cert and --sign-key")
        if timestamp_url and any(marker in said for marker in _TIMESTAMP_FAILED):
            raise NetworkError(f"the time-stamp authority at {timestamp_url} gave no timestamp; "
                               "check --timestamp-url (an RFC 3161 address), or sign without it")
        last = (result.stderr or result.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise ToolFailed(f"{self.name} failed ({result.returncode}): {last[0]}; check that --sign-cert and "
                         "--sign-key are a matching certificate and key")

    def verify_signature(self, path: Path, *, ca_file: Path | None = None) -> str:
        args = ["verify", "-in", path]
        if ca_file:
            args += ["-CAfile", ca_file]
        return self.run(args).stdout


def check_timestamp_url(url: str | None) -> None:
    """``--timestamp-url`` must be an http(s) address (RFC 3161 time-stamp authorities are)."""
    if url is not None and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
        raise ConfigError(f"--timestamp-url {url!r} is not an http:// or https:// address of an RFC 3161 time-stamp authority")


def sign_in_place(path: Path, *, certificate: Path, key: Path, description: str, timestamp_url: str | None = None,
                  tool: OsslSigncode | None = None) -> Path:
    """Replace the file at ``path`` by its signed copy in one step; on failure ``path`` is
    left as it was and no partial copy remains."""
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.signed.")
    os.close(descriptor)
    signed = Path(name)
    signed.unlink()  # osslsigncode writes the file itself
    try:
        (tool or OsslSigncode()).sign(path, signed, certificate=certificate, key=key, description=description,
                                      timestamp_url=timestamp_url)
        os.chmod(signed, os.stat(path).st_mode & 0o7777)
        os.replace(signed, path)
    finally:
        signed.unlink(missing_ok=True)
    return path
