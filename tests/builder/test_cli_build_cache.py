"""``sosqueue build`` with the rendered brand kept in the user's cache: a build with the brand
unchanged carries the same module contents as a fresh one, any change to the brand is drawn
anew, a damaged entry is replaced, and a bad logo is still refused before the queue is called."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from branding import render
from branding.model import Brand
from builder import brand_cache
from sosqueue import payload
from sosqueue.cli import cli
from sosqueue.errors import ExitCode
from tests.branding.images import draw_mark
from tests.builder.conftest import REPO
from tests.support.servers import free_port

REGISTERED = {"id": '"mod-1"', "token": '"mod_0123456789abcdef"'}
HTTPS = {"url": '"https://queue.example.com"'}


@pytest.fixture
def cache_home(tmp_path, monkeypatch) -> Path:
    """The user's cache folder of this test (platformdirs follows XDG_CACHE_HOME)."""
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture
def logo(tmp_path) -> Path:
    path = tmp_path / "logo.png"
    draw_mark((256, 256)).save(path)
    return path


@pytest.fixture
def config(write_config, logo) -> Path:
    return write_config(module=REGISTERED, server=HTTPS, brand={"logo": f'"{logo.name}"', "product": '"Helpdesk"'})


def build(config: Path, base: Path, out: Path) -> payload.Payload:
    """Runs ``sosqueue build`` through click's runner; the module's payload."""
    result = CliRunner().invoke(cli, ["build", "--config", str(config), "--base", str(base), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return payload.read(Path(result.stdout.strip()))


def kept_entries(cache_home: Path) -> list[Path]:
    return sorted((cache_home / "sosqueue" / "brands").glob("*.bin"))


def test_a_build_with_the_brand_unchanged_carries_what_a_fresh_build_does(config, fake_base, tmp_path, cache_home,
                                                                          monkeypatch):
    """The second build renders nothing and its module holds the same files and configuration."""
    fresh = build(config, fake_base, tmp_path / "first")
    assert len(kept_entries(cache_home)) == 1
    monkeypatch.setattr(render, "render_assets", lambda brand: pytest.fail("rendered again"))
    again = build(config, fake_base, tmp_path / "second")
    assert again.assets == fresh.assets
    assert again.config == fresh.config


def test_a_changed_logo_is_drawn_anew(config, fake_base, tmp_path, logo, cache_home):
    """New logo bytes at the same path: the module carries the new logo's images."""
    before = build(config, fake_base, tmp_path / "first")
    draw_mark((256, 256), color="#C2410C").save(logo)
    after = build(config, fake_base, tmp_path / "second")
    assert after.assets["logo.png"] != before.assets["logo.png"]
    assert after.assets == render.render_assets(Brand(logo=logo, product="Helpdesk"))
    assert len(kept_entries(cache_home)) == 2


def test_a_changed_colour_and_name_are_drawn_anew(write_config, logo, fake_base, tmp_path, cache_home):
    """Another primary colour and product name: the module carries that brand's images."""
    brand = {"logo": f'"{logo.name}"', "product": '"Helpdesk"'}
    build(write_config(module=REGISTERED, server=HTTPS, brand=brand), fake_base, tmp_path / "first")
    changed = write_config(module=REGISTERED, server=HTTPS, brand={**brand, "primary": '"#0F766E"', "product": '"Hotline"'})
    after = build(changed, fake_base, tmp_path / "second")
    assert after.assets == render.render_assets(Brand(logo=logo, product="Hotline", primary="#0F766E"))


def test_a_corrupted_entry_is_ignored_and_rewritten(config, fake_base, tmp_path, cache_home):
    """A damaged entry is not stamped: the build renders the brand and replaces the entry."""
    fresh = build(config, fake_base, tmp_path / "first")
    [entry] = kept_entries(cache_home)
    intact = entry.read_bytes()
    entry.write_bytes(intact[:-100] + bytes(100))
    again = build(config, fake_base, tmp_path / "second")
    assert again.assets == fresh.assets
    assert entry.read_bytes() == intact
    assert brand_cache.decode(intact) == {name: data for name, data in fresh.assets.items() if name != "ca.pem"}


def test_a_bad_logo_is_refused_before_the_queue_is_called(sosqueue, write_config, tmp_path, fake_base, cache_home):
    """The logo is decoded before registering: a text file named logo.png is refused (exit 10), no
    queue is called (nothing listens at --server) and no identity file is written."""
    (tmp_path / "logo.png").write_text("this is not a picture\n")
    config = write_config(brand={"logo": '"logo.png"'})
    outcome = sosqueue("build", "--config", config, "--base", fake_base, "--out", tmp_path / "out",
                       "--server", f"http://127.0.0.1:{free_port()}", "--token", "sqa_admin")
    assert outcome.code == ExitCode.BRAND, outcome.err
    assert "not an image" in outcome.error_line()
    assert not (tmp_path / "module.identity.toml").exists()
    assert kept_entries(cache_home) == []


def test_a_build_with_the_brand_kept_imports_no_pillow_requests_or_installers(config, fake_base, tmp_path, cache_home):
    """In a process of its own, a local build with the brand kept loads neither Pillow's imaging
    library, nor requests, nor the installer formats."""
    script = ("import json, sys\n"
              "from sosqueue.cli import run\n"
              f"code = run(['build', '--config', {str(config)!r}, '--base', {str(fake_base)!r}, '--out', {str(tmp_path / 'out')!r}])\n"
              "loaded = [name for name in ('PIL.Image', 'requests', 'builder.packaging') if name in sys.modules]\n"
              "print(json.dumps({'code': int(code), 'loaded': loaded}))\n")
    env = {"XDG_CACHE_HOME": str(cache_home), "PATH": "/usr/bin:/bin"}
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
            for _ in range(2)]
    first, second = (json.loads(run.stdout.strip().splitlines()[-1]) for run in runs)
    assert first["code"] == second["code"] == ExitCode.OK, runs[1].stderr
    assert "PIL.Image" in first["loaded"]  # the first build renders the brand
    assert second["loaded"] == []
