"""Every name and path in the ``.deb``, from the product name (the layout is in the package's
docstring, :mod:`builder.packaging.deb`)."""

from dataclasses import dataclass

from sosqueue import platforms
from sosqueue.errors import ConfigError
from builder.packaging.module import Module

#: The desktop-shortcuts helper's name, installed next to the module.
HELPER_NAME = "desktop-shortcuts"


@dataclass(frozen=True)
class Layout:
    """Every name and path in the package, from the product name."""

    package: str
    product: str
    sos_name: str

    @classmethod
    def for_module(cls, module: Module) -> "Layout":
        try:
            return cls(package=platforms.identifier(module.product), product=platforms.display_name(module.product),
                       sos_name=platforms.sos_name(module.product))
        except ValueError as error:
            raise ConfigError(f"the product name cannot name a package ({error}); choose another product name") from None

    @property
    def install_dir(self) -> str:
        return f"/opt/{self.package}"

    @property
    def executable(self) -> str:
        return f"{self.install_dir}/{self.package}"

    @property
    def helper(self) -> str:
        return f"{self.install_dir}/{HELPER_NAME}"

    @property
    def template(self) -> str:
        return f"{self.install_dir}/sos-shortcut.desktop"

    @property
    def shortcut_file(self) -> str:
        """The SOS shortcut's file name on the desktops, e.g. ``Acme Help SOS.desktop``."""
        return f"{platforms.file_name(self.sos_name)}.desktop"

    @property
    def menu_entry(self) -> str:
        return f"/usr/share/applications/{self.package}.desktop"

    @property
    def autostart_entry(self) -> str:
        return f"/etc/xdg/autostart/{self.package}.desktop"

    @property
    def login_entry(self) -> str:
        """The autostart entry that gives each user the SOS shortcut at login (``desktop-shortcuts login``)."""
        return f"/etc/xdg/autostart/{self.package}-sos-shortcut.desktop"

    @property
    def doc_dir(self) -> str:
        return f"/usr/share/doc/{self.package}"

    @property
    def state_dir(self) -> str:
        return f"/var/lib/{self.package}"

    def icon(self, name: str) -> str:
        return f"{self.install_dir}/icons/{name}.png"
