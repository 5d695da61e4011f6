"""First run, ``--install`` and ``--uninstall`` on Linux, with real files under a temporary home."""

import dataclasses
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from agent import setup
from agent.errors import AgentError, StorageFailure
from tests.agent.platforms.desktop_env import desktop_entry, exec_argv, make_recorder, prepare_home, validate
from tests.support.modules import module_config, write_module_file

REPO = Path(__file__).resolve().parents[2]
MODULE = {"server_url": "https://queue.example.test", "module_id": "mod-42",
          "module_token": "sqm_0123456789abcdefghijklmnopqrstuvwxyz"}
LAUNCH = ["/opt/Acme Support/acme-support"]


@pytest.fixture
def desktop_home(tmp_path, monkeypatch):
    return prepare_home(tmp_path, monkeypatch)


@pytest.fixture
def config():
    return module_config(**MODULE, product="Acme Support")


def sos_shortcut(home) -> Path:
    return home.desktop / "Acme Support SOS.desktop"


def menu_entry(home) -> Path:
    return home.applications / "sosqueue-acme-support.desktop"


def autostart_entry(home) -> Path:
    return home.autostart / "sosqueue-acme-support.desktop"


def data_dir(home) -> Path:
    return home.agent_home / "data" / MODULE["module_id"]


def manifest(home) -> dict:
    return json.loads((data_dir(home) / setup.MANIFEST_NAME).read_text())


def files_under(*folders: Path) -> list[Path]:
    return sorted(path for folder in folders if folder.exists() for path in folder.rglob("*") if path.is_file())


def test_install_creates_icons_shortcut_and_menu_entry(config, desktop_home):
    """Install writes the icons to the data folder and points the SOS shortcut and menu entry at them."""
    created = setup.install(config, LAUNCH)
    assert created == [sos_shortcut(desktop_home), menu_entry(desktop_home)]
    icons = data_dir(desktop_home) / "icons"
    assert (icons / "sos.png").read_bytes() == config.assets["sos.png"]
    assert (icons / "app.png").read_bytes() == config.assets["app.png"]
    shortcut = desktop_entry(sos_shortcut(desktop_home))
    assert (shortcut["Name"], shortcut["Icon"]) == ("Acme Support SOS", str(icons / "sos.png"))
    assert exec_argv(shortcut["Exec"]) == [*LAUNCH, "--sos"]
    entry = desktop_entry(menu_entry(desktop_home))
    assert (entry["Name"], entry["Icon"], exec_argv(entry["Exec"])) == ("Acme Support", str(icons / "app.png"), LAUNCH)
    assert not desktop_home.autostart.exists()
    assert all(validate(path) == "" for path in created)


def test_install_with_autostart_starts_in_the_tray(config, desktop_home):
    """With autostart, the login entry runs the agent with ``--tray``."""
    setup.install(config, LAUNCH, autostart=True)
    assert exec_argv(desktop_entry(autostart_entry(desktop_home))["Exec"]) == [*LAUNCH, "--tray"]


def test_install_without_shortcut_creates_no_desktop_file(config, desktop_home):
    """``shortcut=False`` (``--no-shortcut``) leaves the desktop alone."""
    setup.install(config, LAUNCH, shortcut=False)
    assert not desktop_home.desktop.exists()
    assert menu_entry(desktop_home).exists()


def test_manifest_lists_everything_created(config, desktop_home):
    """The manifest in the data folder records every file and icon, and that setup completed."""
    setup.install(config, LAUNCH, autostart=True)
    record = manifest(desktop_home)
    assert record["complete"] is True
    assert [Path(item["file"]) for item in record["created"]] == [
        sos_shortcut(desktop_home), menu_entry(desktop_home), autostart_entry(desktop_home)]
    assert sorted(record["icons"]) == sorted(str(data_dir(desktop_home) / "icons" / n) for n in ("app.png", "sos.png"))


def test_installing_twice_creates_no_duplicates(config, desktop_home):
    """A second install replaces the same files and keeps one manifest entry each."""
    setup.install(config, LAUNCH, autostart=True)
    before = files_under(desktop_home.root, desktop_home.agent_home)
    setup.install(config, LAUNCH, autostart=True)
    assert files_under(desktop_home.root, desktop_home.agent_home) == before
    assert len(manifest(desktop_home)["created"]) == 3


def test_uninstall_removes_everything_created_and_nothing_else(config, desktop_home):
    """After uninstall only the unrelated files remain: other shortcuts, the outbox, the data folder."""
    unrelated = [desktop_home.desktop / "Firefox.desktop", desktop_home.applications / "other.desktop",
                 desktop_home.autostart / "other.desktop", data_dir(desktop_home) / "outbox" / "pending.json"]
    for path in unrelated:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("keep")
    setup.install(config, LAUNCH, autostart=True)
    removed = setup.uninstall(config)
    assert sos_shortcut(desktop_home) in removed and autostart_entry(desktop_home) in removed
    assert files_under(desktop_home.root, desktop_home.agent_home) == sorted(unrelated)


def test_the_autostart_entry_alone_shows_the_brands_icon(config, desktop_home):
    """Autostart without a shortcut or menu entry made in the same run still carries the brand's icon."""
    setup.install(config, LAUNCH, shortcut=False, start_menu=False, autostart=True)
    icon = Path(desktop_entry(autostart_entry(desktop_home))["Icon"])
    assert icon.parent == data_dir(desktop_home) / "icons" and icon.is_file()


def test_uninstall_removes_what_an_older_install_created_under_another_name(desktop_home):
    """Uninstall follows the manifest, so a renamed product's old shortcut goes too."""
    setup.install(module_config(**MODULE, product="Old Name"), LAUNCH)
    setup.install(module_config(**MODULE, product="Acme Support"), LAUNCH)
    assert len(list(desktop_home.desktop.iterdir())) == 2
    setup.uninstall(module_config(**MODULE, product="Acme Support"))
    assert list(desktop_home.desktop.iterdir()) == []


def test_uninstall_without_install_removes_nothing(config, desktop_home):
    """Nothing recorded, nothing removed, no error, and a same-named file made by someone else stays."""
    sos_shortcut(desktop_home).parent.mkdir(parents=True)
    sos_shortcut(desktop_home).write_text("[Desktop Entry]\n")
    assert setup.uninstall(config) == []
    assert sos_shortcut(desktop_home).exists()


def test_damaged_manifest_stops_uninstall_with_a_plain_message(config, desktop_home):
    """An unreadable record is a StorageFailure that says what to do; the shortcuts stay."""
    setup.install(config, LAUNCH)
    (data_dir(desktop_home) / setup.MANIFEST_NAME).write_text("{not json")
    with pytest.raises(StorageFailure, match="remove the shortcuts by hand"):
        setup.uninstall(config)
    assert sos_shortcut(desktop_home).exists()


def test_first_run_installs_from_the_module_options_once(desktop_home):
    """The first call follows sos_shortcut/start_menu/autostart; later calls do nothing."""
    config = module_config(**MODULE, product="Acme Support", sos_shortcut=True, start_menu=False, autostart=True)
    assert setup.first_run(config, LAUNCH) is True
    assert sos_shortcut(desktop_home).exists() and autostart_entry(desktop_home).exists()
    assert not menu_entry(desktop_home).exists()
    sos_shortcut(desktop_home).unlink()  # the customer deleted the button: respect that
    assert setup.first_run(config, LAUNCH) is False
    assert not sos_shortcut(desktop_home).exists()


def test_first_run_without_any_option_still_runs_only_once(desktop_home):
    """A module with every option off creates nothing, but still records that it ran."""
    config = module_config(**MODULE, product="Acme Support", sos_shortcut=False, start_menu=False, autostart=False)
    assert setup.first_run(config, LAUNCH) is True
    assert setup.first_run(config, LAUNCH) is False
    assert files_under(desktop_home.root) == []


def test_first_run_after_install_does_nothing(config, desktop_home):
    """When IT already ran ``--install`` for this user, the first run adds nothing."""
    setup.install(config, LAUNCH, shortcut=False)
    assert setup.first_run(config, LAUNCH) is False
    assert not desktop_home.desktop.exists()


def test_first_run_does_nothing_when_set_up_for_all_users(config, desktop_home):
    """After an all-users install, a user's first run adds no second menu entry or shortcut."""
    setup.install(config, LAUNCH, all_users=True)
    assert setup.first_run(config, LAUNCH) is False
    assert not desktop_home.applications.exists() and not desktop_home.desktop.exists()


def test_first_run_tries_again_after_a_failed_attempt(config, desktop_home):
    """If the first run could not finish, the next one completes it (without duplicates)."""
    desktop_home.root.joinpath("Desktop").write_text("a file where the folder should be")
    with pytest.raises(StorageFailure):
        setup.first_run(config, LAUNCH)
    assert manifest(desktop_home)["complete"] is False
    desktop_home.root.joinpath("Desktop").unlink()
    assert setup.first_run(config, LAUNCH) is True
    assert sos_shortcut(desktop_home).exists()
    assert len(manifest(desktop_home)["created"]) == 2


def test_write_failure_is_a_storage_failure_that_keeps_the_record(config, desktop_home):
    """A step that cannot be written raises StorageFailure naming the file; earlier steps stay recorded."""
    desktop_home.autostart.parent.mkdir(parents=True)
    desktop_home.autostart.write_text("a file where the folder should be")
    with pytest.raises(StorageFailure, match=r"^Could not create .*autostart"):
        setup.install(config, LAUNCH, autostart=True)
    record = manifest(desktop_home)
    assert record["complete"] is False
    assert [Path(item["file"]) for item in record["created"]] == [sos_shortcut(desktop_home), menu_entry(desktop_home)]
    setup.uninstall(config)
    assert not sos_shortcut(desktop_home).exists() and not menu_entry(desktop_home).exists()


def test_unwritable_data_folder_is_a_storage_failure(config, desktop_home):
    """If the agent's data folder cannot be created, install fails with StorageFailure."""
    desktop_home.agent_home.mkdir()
    (desktop_home.agent_home / "data").write_text("a file where the folder should be")
    with pytest.raises(StorageFailure):
        setup.install(config, LAUNCH)


def test_missing_sos_icon_falls_back_to_the_app_icon(desktop_home):
    """Without sos.png/sos.ico the SOS shortcut shows the app icon."""
    config = module_config(**MODULE, product="Acme Support")
    config = dataclasses.replace(config, assets={"app.png": config.assets["app.png"]})
    setup.install(config, LAUNCH)
    icon = Path(desktop_entry(sos_shortcut(desktop_home))["Icon"])
    assert icon.read_bytes() == config.assets["app.png"]
    assert manifest(desktop_home)["icons"] == [str(icon)]


def test_icon_in_the_other_format_is_converted(desktop_home):
    """A module with only .ico icons still gets PNG icons on Linux."""
    config = module_config(**MODULE, product="Acme Support")
    config = dataclasses.replace(config, assets={"sos.ico": config.assets["sos.ico"]})
    setup.install(config, LAUNCH)
    icon = Path(desktop_entry(sos_shortcut(desktop_home))["Icon"])
    with Image.open(io.BytesIO(icon.read_bytes())) as image:
        assert image.format == "PNG"


def test_module_without_icons_gets_the_theme_fallback(desktop_home, caplog):
    """No icon assets at all: the shortcuts use a standard theme icon and the log says so."""
    config = dataclasses.replace(module_config(**MODULE, product="Acme Support"), assets={})
    with caplog.at_level(logging.WARNING, logger="sosqueue.agent.setup"):
        setup.install(config, LAUNCH)
    assert desktop_entry(sos_shortcut(desktop_home))["Icon"] == "help-browser"
    assert "no icons" in caplog.text
    assert not (data_dir(desktop_home) / "icons").exists()


def test_all_users_install_uses_system_folders_and_a_shared_manifest(config, desktop_home):
    """For all users: the SOS shortcut's login entry, system menu and autostart entries with the
    brand's icons, icons and manifest in the shared folder; uninstall takes them and the template folder."""
    created = setup.install(config, LAUNCH, all_users=True, autostart=True)
    shared = desktop_home.agent_home / "shared" / MODULE["module_id"]
    assert created == [desktop_home.system_autostart / "sosqueue-acme-support-sos-shortcut.desktop",
                       desktop_home.system_applications / "sosqueue-acme-support.desktop",
                       desktop_home.system_autostart / "sosqueue-acme-support.desktop"]
    assert desktop_entry(created[0])["Icon"] == str(shared / "icons" / "sos.png")
    assert desktop_entry(created[1])["Icon"] == str(shared / "icons" / "app.png")
    assert desktop_entry(created[2])["Icon"] == str(shared / "icons" / "app.png")
    assert (shared / setup.MANIFEST_NAME).exists()
    assert not desktop_home.desktop.exists()
    setup.uninstall(config, all_users=True)
    assert files_under(desktop_home.system_applications, desktop_home.system_autostart, shared) == []
    assert not desktop_home.system_templates.parent.exists()


def test_user_uninstall_leaves_the_all_users_setup_alone(config, desktop_home):
    """Uninstalling for one user does not touch what IT installed for everyone."""
    setup.install(config, LAUNCH, all_users=True)
    assert setup.uninstall(config) == []
    assert (desktop_home.system_applications / "sosqueue-acme-support.desktop").exists()


def test_unsupported_platform_is_a_plain_agent_error(config, desktop_home, monkeypatch):
    """On a system without a backend, install says so; first run quietly does nothing."""
    monkeypatch.setenv("SOSQUEUE_PLATFORM", "amiga")
    with pytest.raises(AgentError, match="Shortcuts cannot be set up on this system"):
        setup.install(config, LAUNCH)
    assert setup.first_run(config, LAUNCH) is False


def test_all_users_where_unsupported_is_a_plain_agent_error(config, desktop_home, monkeypatch):
    """Asking for all users on a backend without it names the installer package instead."""
    monkeypatch.setenv("SOSQUEUE_PLATFORM", "dummy")
    with pytest.raises(AgentError, match="installer package"):
        setup.install(config, LAUNCH, all_users=True)


def test_dummy_backend_installs_nothing_but_records_the_first_run(config, desktop_home, monkeypatch):
    """On the dummy backend first run creates no files or icons and runs once."""
    monkeypatch.setenv("SOSQUEUE_PLATFORM", "dummy")
    assert setup.first_run(config, LAUNCH) is True
    assert setup.first_run(config, LAUNCH) is False
    assert files_under(desktop_home.root) == []
    assert manifest(desktop_home)["created"] == []


def run_agent(home, *arguments) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home.root), "XDG_CONFIG_HOME": str(home.root / ".config"),
           "XDG_DATA_HOME": str(home.root / ".local/share"), "SOSQUEUE_AGENT_HOME": str(home.agent_home),
           "SOSQUEUE_PLATFORM": "linux"}
    env.pop("DISPLAY", None)
    env.pop("XDG_DESKTOP_DIR", None)
    return subprocess.run([sys.executable, "-m", "agent", *arguments], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_install_and_uninstall_work_without_a_display(desktop_home, tmp_path):
    """``--install --autostart`` makes shortcuts starting this agent with this module; ``--uninstall`` removes them."""
    module = write_module_file(tmp_path / "Jane's Downloads" / "acme support.bin", **MODULE, product="Acme Support")
    installed = run_agent(desktop_home, "--module", str(module), "--install", "--autostart")
    assert installed.returncode == 0, installed.stderr
    launch = [sys.executable, "-m", "agent", "--module", str(module.resolve())]
    assert exec_argv(desktop_entry(sos_shortcut(desktop_home))["Exec"]) == [*launch, "--sos"]
    assert exec_argv(desktop_entry(autostart_entry(desktop_home))["Exec"]) == [*launch, "--tray"]
    menu_command = exec_argv(desktop_entry(menu_entry(desktop_home))["Exec"])
    assert menu_command == launch
    # The menu entry's command really starts this agent with this module (from the home folder, as a desktop would).
    shown = subprocess.run([*menu_command, "--print-config"], cwd=desktop_home.root, capture_output=True, text=True,
                           timeout=120, env={**os.environ, "SOSQUEUE_AGENT_HOME": str(desktop_home.agent_home)})
    assert json.loads(shown.stdout)["module"]["id"] == MODULE["module_id"]
    uninstalled = run_agent(desktop_home, "--module", str(module), "--uninstall")
    assert uninstalled.returncode == 0, uninstalled.stderr
    assert files_under(desktop_home.root) == []
    assert not data_dir(desktop_home).exists()  # not even an empty folder
    log = desktop_home.agent_home / "logs" / "agent.log"
    assert f"kept on purpose: the agent's log, {log}" in uninstalled.stderr


def test_cli_install_without_shortcut_and_a_recorded_launch(desktop_home, tmp_path):
    """``--no-shortcut`` leaves the desktop empty; the menu entry still launches the agent."""
    module = write_module_file(tmp_path / "m.bin", **MODULE, product="Acme Support")
    result = run_agent(desktop_home, "--module", str(module), "--install", "--no-shortcut")
    assert result.returncode == 0, result.stderr
    assert not desktop_home.desktop.exists()
    assert menu_entry(desktop_home).exists()


def test_sos_shortcut_made_by_install_runs_its_command(desktop_home, tmp_path):
    """The installed SOS shortcut, parsed per spec and run, starts the program with ``--sos``."""
    recorder = make_recorder(tmp_path / "Acme Support" / "acme support agent", tmp_path / "argv.json")
    setup.install(module_config(**MODULE, product="Acme Support"), [str(recorder.program), "--module", "/m b.bin"])
    subprocess.run(exec_argv(desktop_entry(sos_shortcut(desktop_home))["Exec"]), check=True, timeout=60)
    assert recorder.argv() == ["--module", "/m b.bin", "--sos"]
