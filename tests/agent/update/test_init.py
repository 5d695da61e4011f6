"""The updater against a real HTTP server on loopback: offers signed here, real files, real preflights."""

import hashlib
import logging
import threading
import time

import pytest

from agent.errors import ModuleRevoked, UpdateFailed, UpdateRefused
from agent.update import BackgroundChecks, Outcome
from agent.update.install import previous_of
from sosqueue import module_config, payload, signing
from sosqueue.updates import PACKAGE_MARKER, Offer, encode_key
from tests.agent.update.conftest import (FOREIGN_BASE, HANGING_BASE, MODULE_TOKEN, OFFERED_BUILT, RUNNING_VERSION, base_exiting,
                                         install_module, staging_leftovers, starting_base)


def test_a_newer_signed_offer_is_installed_with_this_modules_own_payload(installed, update_server, make_updater):
    new_base = starting_base("0.1.1")
    offer = update_server.offer("0.1.1", new_base)
    before = installed.read()

    result = make_updater().check()

    assert result.outcome is Outcome.UPDATED
    assert result.line == "updated 0.1.0 → 0.1.1"
    assert result.swap.executable == installed.executable
    assert installed.read().startswith(new_base)
    assert previous_of(installed.executable).read_bytes() == before
    stamped = payload.read(installed.executable)
    old = payload.read(previous_of(installed.executable))
    assert stamped.assets == old.assets
    assert stamped.config == {**old.config, "updates": {**old.config["updates"], "base_sha256": offer.sha256,
                                                        "base_built": offer.built}}
    assert module_config.parse(stamped).base_sha256 == offer.sha256
    assert staging_leftovers(installed.folder) == []


def test_the_module_token_authorises_both_requests(installed, update_server, make_updater):
    update_server.offer("0.1.1", starting_base("0.1.1"))
    make_updater().check()
    assert [auth for _path, auth in update_server.requests] == [f"Bearer {MODULE_TOKEN}"] * 2


def test_the_module_token_is_never_logged(installed, update_server, make_updater, caplog):
    update_server.offer("0.1.1", base_exiting(1))
    with caplog.at_level(logging.DEBUG), pytest.raises(UpdateRefused):
        make_updater().check()
    assert MODULE_TOKEN not in caplog.text


def test_the_same_version_and_base_is_up_to_date(installed, update_server, make_updater):
    update_server.offer(RUNNING_VERSION, installed.base)
    result = make_updater().check()
    assert (result.outcome, result.line) == (Outcome.CURRENT, "up to date (0.1.0)")
    assert update_server.downloads() == 0


def test_a_later_build_of_the_same_version_is_installed_and_recorded(installed, update_server, make_updater):
    rebuilt = starting_base(RUNNING_VERSION) + b"# rebuilt\n"
    offer = update_server.offer(RUNNING_VERSION, rebuilt)
    assert make_updater().check().outcome is Outcome.UPDATED
    assert installed.read().startswith(rebuilt)
    now = module_config.parse(payload.read(installed.executable))
    assert (now.base_sha256, now.base_built) == (offer.sha256, OFFERED_BUILT)


def test_an_earlier_build_of_the_same_version_is_not_installed(installed, update_server, make_updater):
    before = installed.read()
    update_server.offer(RUNNING_VERSION, starting_base(RUNNING_VERSION) + b"# older\n", built="2026-10-01T00:00:00Z")
    assert make_updater().check().outcome is Outcome.CURRENT
    assert installed.read() == before and update_server.downloads() == 0


def test_an_older_version_is_not_installed(installed, update_server, make_updater, caplog):
    update_server.offer("0.0.9", starting_base("0.0.9"))
    before = installed.read()
    with caplog.at_level(logging.INFO, logger="sosqueue.agent.update"):
        result = make_updater().check()
    assert result.outcome is Outcome.CURRENT
    assert result.line == "the server offers 0.0.9, older than this agent's 0.1.0; staying"
    assert result.line in caplog.text
    assert installed.read() == before
    assert update_server.downloads() == 0


@pytest.mark.parametrize("served", [b"tampered" + starting_base("0.1.1")[8:], starting_base("0.1.1") + b"more"],
                         ids=["tampered bytes", "more bytes than offered"])
def test_a_download_that_is_not_the_signed_file_is_refused(installed, update_server, make_updater, served):
    update_server.offer("0.1.1", starting_base("0.1.1"))
    update_server.file = served
    before = installed.read()
    with pytest.raises(UpdateRefused, match="the download does not match the signed offer: not installed"):
        make_updater().check()
    assert installed.read() == before
    assert not previous_of(installed.executable).exists()
    assert staging_leftovers(installed.folder) == []


def test_a_download_cut_short_is_not_installed_and_tried_again_later(installed, update_server, make_updater):
    data = starting_base("0.1.1")
    update_server.offer("0.1.1", data)
    update_server.cut_file_at = len(data) // 2
    before = installed.read()
    updater = make_updater()
    with pytest.raises(UpdateFailed, match="broke off"):
        updater.check()
    assert installed.read() == before
    assert staging_leftovers(installed.folder) == []
    update_server.cut_file_at = None
    assert updater.check().outcome is Outcome.UPDATED


def test_an_offer_with_a_wrong_size_is_refused(installed, update_server, make_updater):
    data = starting_base("0.1.1")
    update_server.offer("0.1.1", data, size=len(data) - 1)  # changed after signing
    with pytest.raises(UpdateRefused, match="signature"):
        make_updater().check()
    assert update_server.downloads() == 0


def test_an_offer_signed_with_another_key_is_refused(installed, update_server, make_updater):
    update_server.offer("0.1.1", starting_base("0.1.1"), key=signing.generate_private_key())
    before = installed.read()
    with pytest.raises(UpdateRefused, match="not made by this module's server"):
        make_updater().check()
    assert installed.read() == before
    assert update_server.downloads() == 0


def test_an_offer_whose_signature_is_not_base64_is_refused(installed, update_server, make_updater):
    update_server.offer("0.1.1", starting_base("0.1.1"), signature="not base64!")
    with pytest.raises(UpdateRefused, match="signature"):
        make_updater().check()


def test_a_module_stamped_with_another_servers_key_refuses_the_offer(tmp_path, update_server, make_updater):
    other = install_module(tmp_path / "Other" / "Acme Help", update_server,
                           update_key=encode_key(signing.public_key(signing.generate_private_key())))
    update_server.offer("0.1.1", starting_base("0.1.1"))
    with pytest.raises(UpdateRefused, match="signature"):
        make_updater(config=other.config, executable=other.executable).check()


@pytest.mark.parametrize("body", [b"{not json", b"[]"], ids=["not JSON", "not an object"])
def test_an_answer_that_is_not_an_offer_is_not_acted_on(installed, update_server, make_updater, body):
    update_server.serve_offer(body)
    with pytest.raises(UpdateFailed):
        make_updater().check()
    assert update_server.downloads() == 0


def test_an_incomplete_offer_is_refused(installed, update_server, make_updater):
    update_server.serve_offer({"platform": update_server.platform, "version": "0.1.1"})
    with pytest.raises(UpdateRefused, match="incomplete or malformed"):
        make_updater().check()


def test_an_offer_for_another_platform_is_refused(installed, update_server, make_updater):
    other = "windows" if update_server.platform != "windows" else "linux"
    data = starting_base("0.1.1")
    update_server.file = data
    offer = Offer(other, "0.1.1", hashlib.sha256(data).hexdigest(), len(data)).signed(update_server.private_key)
    update_server.serve_offer(offer.to_json())
    with pytest.raises(UpdateRefused, match=f"for {other}"):
        make_updater().check()
    assert update_server.downloads() == 0


def test_a_server_without_a_base_for_the_platform_offers_nothing(installed, update_server, make_updater):
    update_server.problem(404, "no agent for this platform")
    result = make_updater().check()
    assert result.outcome is Outcome.NONE_OFFERED
    assert result.line.startswith("the server has no agent for ")


def test_a_revoked_module_learns_it_from_the_update_check(installed, update_server, make_updater):
    update_server.problem(401, "revoked")
    with pytest.raises(ModuleRevoked):
        make_updater().check()


def test_an_unreachable_server_means_no_update_now(installed, update_server, make_updater):
    update_server.stop()
    with pytest.raises(UpdateFailed, match="cannot be reached"):
        make_updater().check()


@pytest.mark.parametrize("base, reason", [
    (base_exiting(1), r"does not start \(exit code 1\)"),
    (FOREIGN_BASE, "does not show this module's configuration"),
], ids=["exits 1", "another module"])
def test_a_base_that_does_not_start_as_this_module_is_refused(installed, update_server, make_updater, base, reason):
    update_server.offer("0.1.1", base)
    before = installed.read()
    with pytest.raises(UpdateRefused, match=reason):
        make_updater().check()
    assert installed.read() == before
    assert not previous_of(installed.executable).exists()
    assert staging_leftovers(installed.folder) == []


def test_a_base_that_hangs_is_refused_after_the_timeout(installed, update_server, make_updater):
    update_server.offer("0.1.1", HANGING_BASE)
    before = installed.read()
    started = time.monotonic()
    with pytest.raises(UpdateRefused, match="did not answer within 1 s"):
        make_updater(preflight_timeout=1).check()
    assert time.monotonic() - started < 15
    assert installed.read() == before


def test_a_refused_offer_is_not_tried_again_but_a_new_one_is(installed, update_server, make_updater):
    update_server.offer("0.1.1", base_exiting(1))
    updater = make_updater()
    with pytest.raises(UpdateRefused):
        updater.check()
    again = updater.check()
    assert again.outcome is Outcome.FAILED_BEFORE
    assert again.line == "the update to 0.1.1 failed before; not trying it again"
    assert update_server.downloads() == 1
    update_server.offer("0.1.2", starting_base("0.1.2"))
    assert updater.check().outcome is Outcome.UPDATED


def test_it_asking_again_retries_a_refused_offer(installed, update_server, make_updater):
    update_server.offer("0.1.1", base_exiting(1))
    updater = make_updater()
    with pytest.raises(UpdateRefused):
        updater.check()
    with pytest.raises(UpdateRefused):
        updater.check(retry_failed=True)
    assert update_server.downloads() == 2


def test_a_module_without_an_update_key_never_asks(tmp_path, update_server, make_updater):
    keyless = install_module(tmp_path / "Keyless" / "Acme Help", update_server, update_key="")
    result = make_updater(config=keyless.config, executable=keyless.executable).check()
    assert (result.outcome, result.line) == (Outcome.NO_KEY, "this module has no update key; it does not update itself")
    assert update_server.requests == []


def test_an_agent_run_from_source_never_replaces_itself(installed, update_server, make_updater):
    update_server.offer("0.1.1", starting_base("0.1.1"))
    result = make_updater(executable=None).check()
    assert result.outcome is Outcome.FROM_SOURCE
    assert update_server.requests == []


def test_a_machine_wide_install_tells_instead_of_installing(installed, update_server, make_updater):
    (installed.folder / PACKAGE_MARKER).write_text("{}")
    update_server.offer("0.1.1", starting_base("0.1.1"))
    before = installed.read()
    result = make_updater().check()
    assert result.outcome is Outcome.AVAILABLE
    assert result.line == "IT manages updates on this computer: version 0.1.1 is available"
    assert installed.read() == before
    assert update_server.downloads() == 0


def test_a_machine_wide_install_never_replaces_itself_even_if_it_says_auto(installed, update_server, make_updater,
                                                                            policy_path):
    (installed.folder / PACKAGE_MARKER).write_text("{}")
    _write(policy_path, '[updates]\nmode = "auto"\n')
    update_server.offer("0.1.1", starting_base("0.1.1"))
    assert make_updater().check().outcome is Outcome.AVAILABLE
    assert update_server.downloads() == 0


def test_it_can_make_a_users_module_only_notify(installed, update_server, make_updater, policy_path):
    _write(policy_path, '[updates]\nmode = "notify"\n')
    update_server.offer("0.1.1", starting_base("0.1.1"))
    assert make_updater().check().outcome is Outcome.AVAILABLE


def test_updates_switched_off_by_it_do_not_ask_the_server(installed, update_server, make_updater, policy_path):
    _write(policy_path, '[updates]\nmode = "off"\n')
    result = make_updater().check()
    assert (result.outcome, result.line) == (Outcome.OFF, f"updates are switched off by IT ({policy_path})")
    assert update_server.requests == []


def test_a_bad_policy_file_switches_updates_off_and_says_how_to_fix_it(installed, update_server, make_updater,
                                                                        policy_path, caplog):
    _write(policy_path, '[updates]\nmode = "sometimes"\n')
    with caplog.at_level(logging.INFO, logger="sosqueue.agent.update"):
        result = make_updater().check()
    assert result.outcome is Outcome.OFF
    assert result.line.startswith(f"updates are off: {policy_path}: update mode 'sometimes' is not one of")
    assert update_server.requests == []
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(policy_path) in warnings[0] and '"off"' in warnings[0]


def test_the_customer_is_told_once_per_offered_version(installed, update_server, make_updater):
    (installed.folder / PACKAGE_MARKER).write_text("{}")
    updater = make_updater()
    first = update_server.offer("0.1.1", starting_base("0.1.1"))
    assert updater.should_announce(first) is True
    assert updater.should_announce(first) is False
    assert make_updater().should_announce(first) is False
    assert updater.should_announce(update_server.offer("0.1.2", starting_base("0.1.2"))) is True


def test_an_update_installed_by_another_process_is_not_downloaded_again(installed, update_server, make_updater):
    update_server.offer("0.1.1", starting_base("0.1.1"))
    make_updater().check()  # e.g. --update while the app runs the old file
    result = make_updater().check()  # the running app, still with its old configuration
    assert result.outcome is Outcome.INSTALLED
    assert result.swap.previous == previous_of(installed.executable)
    assert update_server.downloads() == 1


def test_the_new_agent_removes_the_previous_one_at_its_check(installed, update_server, make_updater):
    update_server.offer("0.1.1", starting_base("0.1.1"))
    make_updater().check()
    assert previous_of(installed.executable).exists()
    running_new = module_config.parse(payload.read(installed.executable))
    assert make_updater(config=running_new, version="0.1.1").check().outcome is Outcome.CURRENT
    assert not previous_of(installed.executable).exists()


def test_background_checks_wait_then_check_and_stop_promptly():
    checked = threading.Event()
    checks = BackgroundChecks(checked.set, first_delay=0.05, interval=3600)
    checks.start()
    assert checked.wait(5)
    checked.clear()
    checks.wake()
    assert checked.wait(5)
    started = time.monotonic()
    checks.stop()
    checks.join(5)
    assert time.monotonic() - started < 1


def test_background_checks_survive_a_failing_check():
    calls = []

    def check():
        calls.append(1)
        raise RuntimeError("boom")

    checks = BackgroundChecks(check, first_delay=0.01, interval=0.01)
    checks.start()
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    checks.stop()
    checks.join(5)
    assert len(calls) >= 2


def _write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)

