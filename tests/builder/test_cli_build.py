"""``sosqueue module init`` and ``sosqueue build``: results on stdout, one-line errors, exit codes.

Most runs are in process (``sosqueue.cli.run``); a few run the installed ``sosqueue`` command to
prove the exit codes and streams end to end. The last part stamps the real PyInstaller base and
runs the module it makes against a real queue.
"""

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from PIL import Image

from sosqueue import module_config
from sosqueue import payload
from branding.render import PREVIEW_SIZE
from sosqueue.errors import ExitCode
from builder.commands import NO_UPDATE_KEY
from builder.module_config import template
from tests.branding.images import png_header_only
from tests.builder.conftest import folder_listing, run_sosqueue
from tests.support.queue_api import CODE_PATTERN
from tests.support.servers import free_port
from tests.support.tenants import bearer

TOKEN = "mod_0123456789abcdef"
REGISTERED = {"id": '"mod-1"', "token": f'"{TOKEN}"'}
HTTPS = {"url": '"https://queue.example.com"'}
AGENT_TIMEOUT = 180


@pytest.fixture
def out(tmp_path) -> Path:
    """An output folder that already holds one file of the admin's."""
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    return folder


@pytest.fixture
def registered_config(write_config) -> Path:
    """A config with an id and token and an https server: builds without a queue."""
    return write_config(module=REGISTERED, server=HTTPS)


def build(sosqueue, config: Path, base: Path, out: Path, *extra):
    return sosqueue("build", "--config", config, "--base", base, "--out", out, *extra)


def assert_refused(outcome, code: ExitCode, *fragments: str) -> str:
    """The run failed with ``code``, one ``Error:`` line naming the problem, nothing on stdout."""
    assert outcome.code == code, (outcome.code, outcome.err)
    line = outcome.error_line()
    assert "Traceback" not in outcome.err
    assert "something unexpected" not in line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    assert outcome.out == ""
    return line


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- module init --------------------------------------------------------------------------


def test_init_without_path_prints_the_template(sosqueue):
    """``module init`` alone writes the template to stdout and nothing to stderr."""
    outcome = sosqueue("module", "init")
    assert outcome.code == ExitCode.OK
    assert outcome.out == template()
    assert outcome.err == ""


def test_init_writes_the_template_and_prints_its_path(sosqueue, tmp_path):
    """``module init PATH`` writes the template and prints only the path."""
    path = tmp_path / "conf" / "module.toml"
    outcome = sosqueue("module", "init", path)
    assert outcome.code == ExitCode.OK
    assert path.read_text(encoding="utf-8") == template()
    assert outcome.out == f"{path}\n"
    assert folder_listing(path.parent) == ["module.toml"]


def test_init_refuses_to_overwrite_without_force(sosqueue, tmp_path):
    """An existing file stays as it was unless ``--force`` is given (exit 3)."""
    path = tmp_path / "module.toml"
    path.write_text("# mine\n")
    line = assert_refused(sosqueue("module", "init", path), ExitCode.CONFIG, str(path), "--force")
    assert "exists" in line
    assert path.read_text() == "# mine\n"
    assert sosqueue("module", "init", "--force", path).code == ExitCode.OK
    assert path.read_text(encoding="utf-8") == template()


def test_init_then_build_registers_a_module_with_the_queue(sosqueue, tmp_path, fake_base, out, queue_server, tenant):
    """The untouched template builds against a real queue: the module carries the registered id."""
    config = tmp_path / "module.toml"
    assert sosqueue("module", "init", config).code == ExitCode.OK
    outcome = build(sosqueue, config, fake_base, out, "--server", queue_server.url, "--token", tenant.admin_token)
    assert outcome.code == ExitCode.OK, outcome.err
    module = Path(outcome.out.strip())
    modules = httpx.get(f"{queue_server.url}/api/v1/modules", headers=bearer(tenant.admin_token), timeout=10).json()
    registered = [item for item in modules["items"] if item["name"] == "Support"]
    assert len(registered) == 1

    shown = sosqueue("inspect", module)
    assert shown.code == ExitCode.OK
    carried = json.loads(shown.out)
    assert carried["module"]["id"] == registered[0]["id"]
    assert carried["checksum"] == "ok"
    token = payload.read(module).config["module"]["token"]
    assert token and token not in shown.out
    assert carried["module"]["token"] == module_config.redact(token)


# --- build: results -------------------------------------------------------------------------


def test_build_prints_exactly_the_module_path(sosqueue, registered_config, fake_base, out):
    """stdout carries the module's path and nothing else; the module is the only new file."""
    outcome = build(sosqueue, registered_config, fake_base, out)
    assert outcome.code == ExitCode.OK, outcome.err
    assert outcome.out == f"{out / 'Support'}\n"
    assert folder_listing(out) == ["Support", "keep.txt"]
    assert os.access(out / "Support", os.X_OK)


def test_build_json_prints_one_object(sosqueue, registered_config, fake_base, out):
    """``--json`` prints one JSON object with the path, platform and module id."""
    outcome = build(sosqueue, registered_config, fake_base, out, "--json")
    assert outcome.code == ExitCode.OK, outcome.err
    assert len(outcome.out.strip().splitlines()) == 1
    assert json.loads(outcome.out) == {
        "path": str(out / "Support"), "platform": "linux", "module_id": "mod-1", "version": "1.0.0",
        "server_url": "https://queue.example.com", "identity": str(registered_config.with_name("module.identity.toml")),
        "registered": False, "update_key": None, "brand": "config", "brand_version": None, "preview": None}


def test_build_without_an_update_key_says_once_that_the_module_will_not_update_itself(
        sosqueue, caplog, registered_config, fake_base, out):
    """No queue contacted, no key kept: one line on stderr naming --server; the module still builds."""
    outcome = build(sosqueue, registered_config, fake_base, out)
    assert outcome.code == ExitCode.OK, outcome.err
    assert caplog.text.count(NO_UPDATE_KEY) == 1
    assert "--server" in NO_UPDATE_KEY


def test_build_preview_renders_the_window_and_icons(sosqueue, registered_config, fake_base, out, tmp_path):
    """``--preview`` writes a PNG of the branded window next to the module, no staging file left."""
    picture = tmp_path / "previews" / "preview.png"
    picture.parent.mkdir()
    outcome = build(sosqueue, registered_config, fake_base, out, "--preview", picture)
    assert outcome.code == ExitCode.OK, outcome.err
    with Image.open(picture) as image:
        assert (image.format, image.size) == ("PNG", PREVIEW_SIZE)
    assert folder_listing(picture.parent) == ["preview.png"]


def test_preview_that_cannot_be_written_is_an_output_error(sosqueue, registered_config, fake_base, out, tmp_path):
    """``--preview`` under a regular file: exit 12 and one line naming the preview."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    outcome = build(sosqueue, registered_config, fake_base, out, "--preview", blocker / "preview.png")
    assert_refused(outcome, ExitCode.OUTPUT, "cannot write the preview")


def test_build_never_modifies_the_base(sosqueue, registered_config, fake_base, out):
    """The base's bytes are the same before and after a build."""
    before = sha256(fake_base)
    assert build(sosqueue, registered_config, fake_base, out).code == ExitCode.OK
    assert sha256(fake_base) == before


def test_contrast_below_minimum_builds_when_forced(sosqueue, write_config, fake_base, out):
    """``force_contrast = true`` accepts a low-contrast text colour and stamps it."""
    config = write_config(module=REGISTERED, server=HTTPS,
                          brand={"on_primary": '"#1060FF"', "force_contrast": "true"})
    outcome = build(sosqueue, config, fake_base, out)
    assert outcome.code == ExitCode.OK, outcome.err
    assert payload.read(out / "Support").config["brand"]["on_primary"] == "#1060FF"


def test_insecure_server_builds_with_allow_insecure(sosqueue, write_config, fake_base, out):
    """``--allow-insecure`` accepts http:// to another host, and the agent accepts the module."""
    config = write_config(module=REGISTERED, server={"url": '"http://queue.lan:8765"'})
    outcome = build(sosqueue, config, fake_base, out, "--allow-insecure")
    assert outcome.code == ExitCode.OK, outcome.err
    assert module_config.parse(payload.read(out / "Support")).server_url == "http://queue.lan:8765"


# --- build: bad input -----------------------------------------------------------------------


def text_logo(folder: Path) -> str:
    (folder / "logo.png").write_text("this is not a picture\n")
    return '"logo.png"'


def huge_logo(folder: Path) -> str:
    png_header_only(folder / "huge.png", 10_000, 5_000)
    return '"huge.png"'


BAD_CONFIGS = {
    "missing logo": ({"brand": {"logo": '"missing.png"'}}, ExitCode.BRAND, ["logo", "missing.png", "does not exist"]),
    "text named logo.png": ({"brand": {"logo": text_logo}}, ExitCode.BRAND, ["logo", "not an image"]),
    "50-megapixel logo": ({"brand": {"logo": huge_logo}}, ExitCode.BRAND, ["50.0 megapixels", "export the logo"]),
    "colour with a G": ({"brand": {"primary": '"#12345G"'}}, ExitCode.BRAND, ["primary", "#12345G", "#RRGGBB"]),
    "colour in words": ({"brand": {"accent": '"blue-ish"'}}, ExitCode.BRAND, ["accent", "blue-ish"]),
    "low contrast": ({"brand": {"on_primary": '"#1060FF"'}}, ExitCode.BRAND, ["on_primary", "contrast", "force_contrast"]),
    "http to another host": ({"server": {"url": '"http://queue.example.com"'}}, ExitCode.CONFIG,
                             ["not encrypted", "--allow-insecure"]),
    "unknown section": ({"sever": {"url": '"https://x.example.com"'}}, ExitCode.CONFIG, ["unknown section [sever]"]),
    "unknown module key": ({"module": {"nmae": '"x"'}}, ExitCode.CONFIG, ["module.nmae is not a setting"]),
    "unknown brand key": ({"brand": {"colour": '"red"'}}, ExitCode.BRAND, ["colour", "not a brand setting"]),
    "flag as text": ({"options": {"autostart": '"yes"'}}, ExitCode.CONFIG, ["options.autostart must be true or false"]),
    "name as number": ({"module": {"name": "5"}}, ExitCode.CONFIG, ["module.name must be text"]),
    "id without token": ({"module": {"id": '"mod-1"', "token": '""'}}, ExitCode.CONFIG,
                         ["module.id and module.token go together"]),
    "no id and no server": ({"module": {"id": '""', "token": '""'}}, ExitCode.CONFIG, ["--server URL --token"]),
}


@pytest.mark.parametrize("edits, code, fragments", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_config_is_one_line_with_its_exit_code_and_writes_nothing(sosqueue, write_config, tmp_path, fake_base, out,
                                                                      edits, code, fragments):
    """Each bad setting: one ``Error:`` line naming it, the documented exit code, the output folder untouched."""
    sections = {"module": dict(REGISTERED), "server": dict(HTTPS)}
    for section, keys in edits.items():
        values = {key: value(tmp_path) if callable(value) else value for key, value in keys.items()}
        sections.setdefault(section, {}).update(values)
    config = write_config(sections=sections)
    assert_refused(build(sosqueue, config, fake_base, out), code, *fragments)
    assert folder_listing(out) == ["keep.txt"]


def test_missing_config_names_module_init(sosqueue, tmp_path, fake_base, out):
    """A config path that does not exist says how to write one (exit 3)."""
    assert_refused(build(sosqueue, tmp_path / "nope.toml", fake_base, out), ExitCode.CONFIG, "sosqueue module init")
    assert folder_listing(out) == ["keep.txt"]


def test_missing_base_says_how_to_build_one(sosqueue, registered_config, tmp_path, out):
    """A base path that does not exist: exit 11 and ``sosqueue build-base``."""
    outcome = build(sosqueue, registered_config, tmp_path / "no-such-base", out)
    assert_refused(outcome, ExitCode.BASE, "no base agent", "sosqueue build-base")
    assert folder_listing(out) == ["keep.txt"]


def test_text_file_as_base_is_refused(sosqueue, registered_config, tmp_path, out):
    """A file that is not an executable cannot be a base (exit 11)."""
    base = tmp_path / "sosqueue-agent"
    base.write_text("#!/bin/sh\necho hello\n")
    assert_refused(build(sosqueue, registered_config, base, out), ExitCode.BASE, "not an executable")
    assert folder_listing(out) == ["keep.txt"]


def test_stamped_module_as_base_is_refused(sosqueue, registered_config, fake_base, out, tmp_path):
    """Passing a module where the base belongs: exit 11, naming the unbranded base."""
    assert build(sosqueue, registered_config, fake_base, tmp_path).code == ExitCode.OK
    outcome = build(sosqueue, registered_config, tmp_path / "Support", out)
    assert_refused(outcome, ExitCode.BASE, "already a stamped module", "--base")
    assert folder_listing(out) == ["keep.txt"]


def test_unwritable_output_is_refused(sosqueue, registered_config, fake_base, tmp_path):
    """``--out`` under a regular file cannot be created: exit 12 and "choose another --out"."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    outcome = build(sosqueue, registered_config, fake_base, blocker / "out")
    assert_refused(outcome, ExitCode.OUTPUT, "cannot write", "choose another --out")
    assert blocker.read_text() == "x"


def test_output_that_is_a_file_is_an_output_error(sosqueue, registered_config, fake_base, tmp_path):
    """``--out`` naming an existing regular file: exit 12, one line, the file untouched."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert_refused(build(sosqueue, registered_config, fake_base, blocker), ExitCode.OUTPUT, "choose another --out")
    assert blocker.read_text() == "x"


def test_init_into_a_folder_that_cannot_exist_is_an_output_error(sosqueue, tmp_path):
    """``module init`` under a regular file: exit 12, one line, nothing written."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert_refused(sosqueue("module", "init", blocker / "module.toml"), ExitCode.OUTPUT, "cannot write")
    assert folder_listing(tmp_path) == ["a-file"]


def test_bad_admin_token_is_a_config_error(sosqueue, write_config, fake_base, out, queue_server):
    """A token the queue refuses: exit 3, naming --token; the output folder stays as it was."""
    config = write_config()
    outcome = build(sosqueue, config, fake_base, out, "--server", queue_server.url, "--token", "not-a-token")
    assert_refused(outcome, ExitCode.CONFIG, "refused the admin token", "--token")
    assert folder_listing(out) == ["keep.txt"]


def test_supporter_token_cannot_register_a_module(sosqueue, write_config, fake_base, out, queue_server, tenant):
    """Only an admin registers modules: a supporter's token is refused (exit 3)."""
    config = write_config()
    outcome = build(sosqueue, config, fake_base, out, "--server", queue_server.url, "--token", tenant.supporter_token)
    assert_refused(outcome, ExitCode.CONFIG, "refused the admin token")
    assert folder_listing(out) == ["keep.txt"]


def test_unreachable_server_is_a_network_error(sosqueue, write_config, fake_base, out):
    """Nobody listening at --server: exit 16 and "check --server"."""
    config = write_config()
    outcome = build(sosqueue, config, fake_base, out, "--server", f"http://127.0.0.1:{free_port()}", "--token", "t")
    assert_refused(outcome, ExitCode.NETWORK, "cannot reach the queue", "check --server")
    assert folder_listing(out) == ["keep.txt"]


def test_sign_refuses_a_linux_base(sosqueue, registered_config, fake_base, out, code_signing):
    """``--sign`` is for Windows modules: on a Linux base it is refused before anything is written."""
    certificate, key = code_signing
    outcome = build(sosqueue, registered_config, fake_base, out, "--sign", "--sign-cert", certificate, "--sign-key", key)
    assert_refused(outcome, ExitCode.CONFIG, "--sign signs Windows modules")
    assert folder_listing(out) == ["keep.txt"]


def test_sign_needs_a_certificate_and_key(sosqueue, registered_config, windows_base, out):
    """``--sign`` without ``--sign-cert``/``--sign-key`` is refused (exit 3)."""
    assert_refused(build(sosqueue, registered_config, windows_base, out, "--sign"), ExitCode.CONFIG,
                   "--sign-cert and --sign-key")
    assert folder_listing(out) == ["keep.txt"]


def test_sign_produces_a_signature_osslsigncode_verifies(sosqueue, registered_config, windows_base, out, code_signing):
    """A stamped Windows module is signed in place with a valid Authenticode signature; no staging left."""
    certificate, key = code_signing
    outcome = build(sosqueue, registered_config, windows_base, out, "--sign", "--sign-cert", certificate, "--sign-key", key)
    assert outcome.code == ExitCode.OK, outcome.err
    module = Path(outcome.out.strip())
    assert folder_listing(out) == ["Support.exe", "keep.txt"]
    verified = subprocess.run(["osslsigncode", "verify", "-in", module, "-CAfile", certificate],
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Signature verification: ok" in verified.stdout


def test_signed_module_still_carries_its_configuration(sosqueue, registered_config, windows_base, out, code_signing):
    """After signing, the module's payload is still found and verified."""
    certificate, key = code_signing
    outcome = build(sosqueue, registered_config, windows_base, out, "--sign", "--sign-cert", certificate, "--sign-key", key)
    assert outcome.code == ExitCode.OK, outcome.err
    assert payload.read(Path(outcome.out.strip())).config["module"]["id"] == "mod-1"


def test_failed_signing_leaves_no_unsigned_module(sosqueue, registered_config, windows_base, out, code_signing, tmp_path):
    """When osslsigncode fails (a key that is not PEM), exit 15 and no unsigned module is left behind."""
    certificate, _ = code_signing
    bad_key = tmp_path / "key.pem"
    bad_key.write_text("not a key\n")
    outcome = build(sosqueue, registered_config, windows_base, out, "--sign", "--sign-cert", certificate,
                    "--sign-key", bad_key)
    assert_refused(outcome, ExitCode.TOOL_FAILED, "osslsigncode failed")
    assert folder_listing(out) == ["keep.txt"]


# --- the installed command, end to end -------------------------------------------------------


def test_command_prints_the_path_on_stdout_and_progress_on_stderr(registered_config, fake_base, out):
    """The real ``sosqueue build``: exit 0, stdout is the path alone, the progress line is on stderr."""
    outcome = run_sosqueue("build", "--config", registered_config, "--base", fake_base, "--out", out)
    assert outcome.code == ExitCode.OK, outcome.err
    assert outcome.out == f"{out / 'Support'}\n"
    assert re.search(r"stamped .*Support in [\d.]+ s", outcome.err)
    assert outcome.err.count(NO_UPDATE_KEY) == 1


@pytest.mark.parametrize("case, code", [("bad colour", ExitCode.BRAND), ("missing base", ExitCode.BASE),
                                        ("unreachable server", ExitCode.NETWORK)])
def test_command_exit_codes_end_to_end(write_config, fake_base, tmp_path, out, case, code):
    """The real ``sosqueue build`` exits with the documented code and one ``Error:`` line."""
    cases = {
        "bad colour": lambda: (write_config(module=REGISTERED, server=HTTPS, brand={"primary": '"#12345G"'}),
                               fake_base, []),
        "missing base": lambda: (write_config(module=REGISTERED, server=HTTPS), tmp_path / "nope", []),
        "unreachable server": lambda: (write_config(), fake_base,
                                       ["--server", f"http://127.0.0.1:{free_port()}", "--token", "t"]),
    }
    config, base, extra = cases[case]()
    outcome = run_sosqueue("build", "--config", config, "--base", base, "--out", out, *extra)
    assert_refused(outcome, code)
    assert folder_listing(out) == ["keep.txt"]


# --- the real base: stamp it, run the module -------------------------------------------------


def agent_env(home: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return {**env, "SOSQUEUE_AGENT_HOME": str(home)}


def run_module(module: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(module), *args], env=agent_env(home), capture_output=True, text=True,
                          timeout=AGENT_TIMEOUT, cwd=home.parent)


@pytest.fixture
def real_module(sosqueue, write_config, real_base, tmp_path, queue_server, tenant) -> Path:
    """The real base stamped for the Acme brand, registered with the local queue."""
    config = write_config(server={"url": f'"{queue_server.url}"'},
                          brand={"company": '"Acme Corp"', "product": '"Acme Help"', "primary": '"#6A1B9A"'})
    out = tmp_path / "out"
    before = sha256(real_base)
    outcome = build(sosqueue, config, real_base, out, "--server", queue_server.url, "--token", tenant.admin_token)
    assert outcome.code == ExitCode.OK, outcome.err
    assert sha256(real_base) == before
    assert folder_listing(out) == ["Acme-Help"]
    return Path(outcome.out.strip())


def test_real_module_files_a_request_into_the_local_queue(real_module, tmp_path, queue_server, tenant):
    """The stamped PyInstaller module reads its own config and files an SOS request the queue lists."""
    assert os.access(real_module, os.X_OK)
    done = run_module(real_module, tmp_path / "home", "--sos", "--no-gui", "--description", "printer on fire")
    assert done.returncode == 0, done.stderr
    code = done.stdout.strip()
    assert re.fullmatch(CODE_PATTERN, code)
    listing = httpx.get(f"{queue_server.url}/api/v1/service-requests", headers=bearer(tenant.admin_token),
                        timeout=10).json()
    filed = {item["code"]: item for item in listing["items"]}
    assert filed[code]["source"] == "sos"
    assert filed[code]["description"] == "printer on fire"


def test_real_module_prints_its_brand(real_module, tmp_path):
    """``--print-config`` of the stamped binary shows the brand and a redacted token."""
    done = run_module(real_module, tmp_path / "home", "--print-config")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["brand"]["company"], shown["brand"]["product"]) == ("Acme Corp", "Acme Help")
    assert shown["brand"]["primary"] == "#6A1B9A"
    assert shown["module"]["token"].count("…") == 1
    assert payload.read(real_module).config["module"]["token"] not in done.stdout


def test_real_base_alone_says_it_is_the_unbranded_base(real_base, tmp_path):
    """The unbranded base run by itself exits 3 saying it is the base, not a damaged module; no traceback."""
    done = run_module(real_base, tmp_path / "home", "--print-config")
    assert done.returncode == 3
    assert "This is the unbranded base agent, not a support module: it carries no configuration." in done.stderr
    assert "damaged" not in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
