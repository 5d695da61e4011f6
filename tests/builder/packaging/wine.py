"""A throwaway Wine prefix for installing MSIs for real: ``msiexec``, and what it left behind
in the prefix's files and registry.

Everything stays inside the prefix's folder: ``HOME`` points into it (Wine links the user's
Desktop to ``$HOME``), winemenubuilder is off (it would write menu entries for the shortcuts),
and the Desktop links are replaced by plain folders.
"""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sosqueue import updates

#: Generous deadlines: the first start of a prefix takes seconds, an install about one.
BOOT_TIMEOUT = 180
RUN_TIMEOUT = 120
UNINSTALL_KEY = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall"
RUN_KEY = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Run"
#: Where the MSI writes IT's update policy (its ``UPDATES`` property).
POLICY_KEY = "HKLM\\" + updates.POLICY_REGISTRY_KEY
#: msiexec's exit code for success.
ERROR_SUCCESS = 0

_REG_VALUE = re.compile(r'^"((?:[^"\\]|\\.)*)"=(.*)$')


@dataclass
class Installed:
    """One entry of Programs and Features (the ``Uninstall`` key)."""

    key: str
    values: dict[str, str]


class WinePrefix:
    """A 64-bit Wine prefix in ``root`` (``WINEARCH=win64``: Debian's wine without wine32
    runs only 64-bit prefixes, so the MSI is built for x64 to match)."""

    def __init__(self, root: Path, *, wine: str = "wine", language: str = "C.UTF-8", locales: Path | None = None):
        """:param language: the locale Wine takes its Windows locale and ANSI code page from. It must be
            one the C library has, with UTF-8 characters: in a locale it lacks Wine cannot name
            files outside ASCII (msiexec then fails with 67). ``C.UTF-8`` gives code page 1252.
        :param locales: a folder of compiled locales (``LOCPATH``) holding ``language``.
        """
        self.root = root
        self.prefix = root / "prefix"
        self.wine = wine
        self.env = {**os.environ, "WINEPREFIX": str(self.prefix), "WINEARCH": "win64", "WINEDEBUG": "-all",
                    "HOME": str(root / "home"), "WINEDLLOVERRIDES": "winemenubuilder.exe=d;mscoree=d;mshtml=d",
                    "DISPLAY": "", "LANG": language, "LC_ALL": language}
        if locales is not None:
            self.env["LOCPATH"] = str(locales)

    @property
    def drive_c(self) -> Path:
        return self.prefix / "drive_c"

    def boot(self) -> None:
        """Create the prefix and wait until Wine has finished setting it up."""
        (self.root / "home").mkdir(parents=True, exist_ok=True)
        self._run(["wineboot", "--init"], BOOT_TIMEOUT)
        self.wait_idle()
        for desktop in self.drive_c.glob("users/*/Desktop"):
            if desktop.is_symlink():
                desktop.unlink()
                desktop.mkdir()
        # One wineserver for every later command, instead of one started (and waited for) per command.
        subprocess.run(["wineserver", "-p"], env=self.env, timeout=RUN_TIMEOUT, check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def msiexec(self, *args: str | Path) -> int:
        """Run ``msiexec ARGS`` (``/i``, ``/x``, ``/qn``…) to its end; its exit code. Paths
        are given to Windows as ``Z:\\…``."""
        words = [windows_path(arg) if isinstance(arg, Path) else arg for arg in args]
        return self._run(["msiexec", *words], RUN_TIMEOUT, check=False).returncode

    def wait_idle(self) -> None:
        """Wait until every process of the prefix has ended (the wineserver exits then)."""
        subprocess.run(["wineserver", "-w"], env=self.env, timeout=RUN_TIMEOUT, check=False,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        subprocess.run(["wineserver", "-k"], env=self.env, timeout=RUN_TIMEOUT, check=False,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def registry(self, key: str) -> dict[str, dict[str, str]]:
        """The string values of ``key`` and its subkeys, by key (as ``reg export`` writes them);
        empty if the key does not exist."""
        exported = self.root / "export.reg"
        exported.unlink(missing_ok=True)
        self._run(["reg", "export", key, windows_path(exported), "/y"], RUN_TIMEOUT, check=False)
        if not exported.exists():
            return {}
        return parse_reg(exported.read_bytes().decode("utf-16"))

    def values(self, key: str) -> dict[str, str]:
        """The string values of ``key`` itself (named in any case, as Windows reads key names)."""
        wanted = full_key(key).lower()
        return next((values for name, values in self.registry(key).items() if name.lower() == wanted), {})

    def installed(self) -> list[Installed]:
        """The entries of Programs and Features."""
        keys = self.registry(UNINSTALL_KEY)
        prefix = full_key(UNINSTALL_KEY) + "\\"
        return [Installed(key=key[len(prefix):], values=values) for key, values in keys.items()
                if key.startswith(prefix) and "DisplayName" in values]

    def shortcuts(self) -> dict[str, Path]:
        """Every ``.lnk`` in the users' and the all-users' folders, by file name."""
        found = [*self.drive_c.glob("users/**/*.lnk"), *self.drive_c.glob("ProgramData/**/*.lnk")]
        return {path.name: path for path in found}

    def _run(self, args: list[str], timeout: float, *, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``wine ARGS``. Its output goes to ``wine.log`` in the root, not to pipes: the
        processes Wine leaves running for the prefix would hold a pipe open, and reading it to
        its end would never finish."""
        log = self.root / "wine.log"
        with log.open("ab") as output:
            start = output.tell()
            result = subprocess.run([self.wine, *args], env=self.env, timeout=timeout, stdin=subprocess.DEVNULL,
                                    stdout=output, stderr=output)
        if check and result.returncode != 0:
            tail = log.read_bytes()[start:][-500:].decode(errors="replace")
            raise AssertionError(f"wine {' '.join(args)} failed ({result.returncode}): {tail}")
        return result


def windows_path(path: Path) -> str:
    """``path`` as Wine's programs see it: drive ``Z:`` is the root of this computer."""
    return "Z:" + str(path.resolve()).replace("/", "\\")


def full_key(key: str) -> str:
    return key.replace("HKLM\\", "HKEY_LOCAL_MACHINE\\", 1)


def parse_reg(text: str) -> dict[str, dict[str, str]]:
    """The string values of a ``.reg`` file by key (other types are kept as written)."""
    keys: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = keys.setdefault(line[1:-1], {})
        elif found := _REG_VALUE.match(line):
            name, value = found.groups()
            if value.startswith('"') and value.endswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            current[re.sub(r"\\(.)", r"\1", name)] = value
    return keys


def compile_locale(folder: Path, name: str) -> Path | None:
    """Compile the C library's locale ``name`` (e.g. ``ru_RU.UTF-8``) into ``folder`` for
    ``LOCPATH``; ``None`` if this computer has no source for it."""
    language, _, charset = name.partition(".")
    localedef = shutil.which("localedef")
    if localedef is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([localedef, "-i", language, "-f", charset or "UTF-8", str(folder / name)],
                            capture_output=True, timeout=RUN_TIMEOUT)
    return folder if (folder / name).is_dir() and result.returncode in (0, 1) else None
