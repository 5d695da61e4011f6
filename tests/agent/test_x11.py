"""X connections: the tray icon's load no extension, sharing's have those the server offers (real Xvfb)."""

from agent import x11
from tests.agent.tray import desktop, shared_desktop  # noqa: F401


def test_core_connections_load_no_extension_and_others_still_do(desktop):  # noqa: F811
    """Inside core_protocol_only a connection has no extension methods; x11.connect has DAMAGE and XTEST."""
    from Xlib import display as xdisplay

    with x11.core_protocol_only():
        core = xdisplay.Display(desktop.display)
    full = x11.connect(desktop.display)
    try:
        assert core.extensions == []
        assert not hasattr(core, "damage_create") and not hasattr(core, "xtest_fake_input")
        assert {"DAMAGE", "XTEST"} <= set(full.extensions) or (hasattr(full, "damage_create")
                                                               and hasattr(full, "xtest_fake_input"))
    finally:
        core.close()
        full.close()
