"""Authenticode signing of Windows modules with osslsigncode."""

from pathlib import Path

from builder.tools import Tool


class OsslSigncode(Tool):
    name = "osslsigncode"
    executable = "osslsigncode"
    debian_package = "osslsigncode"

    def sign(self, unsigned: Path, signed: Path, *, certificate: Path, key: Path, description: str,
             timestamp_url: str | None = None, password: str | None = None) -> Path:
        args = ["sign", "-certs", certificate, "-key", key, "-n", description, "-h", "sha256"]
        if password:
            args += ["-pass", password]
        if timestamp_url:
            args += ["-ts", timestamp_url]
        self.run([*args, "-in", unsigned, "-out", signed])
        return signed

    def verify_signature(self, path: Path, *, ca_file: Path | None = None) -> str:
        args = ["verify", "-in", path]
        if ca_file:
            args += ["-CAfile", ca_file]
        return self.run(args).stdout
