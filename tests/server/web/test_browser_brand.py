"""The brand editor in Chromium: the live preview and contrast table follow the form, and a save sticks."""

from tests.support.browser import csp_violations, mark_document, same_document, sign_in

PAIR_ON_PRIMARY = "text on the primary colour"


def ratio_of(page, pair: str) -> str:
    return page.locator(f'#contrast tr[data-pair="{pair}"] .ratio').inner_text()


def test_editing_colour_and_text_updates_preview_and_contrast_live_and_a_save_keeps_them(sqlite_server, tenant, page):
    sign_in(page, sqlite_server, tenant.admin_email, path=f"/admin/modules/{tenant.module_id}/brand")
    first_image = page.get_attribute("#preview", "src")
    first_ratio = ratio_of(page, PAIR_ON_PRIMARY)

    page.fill("input[name=primary]", "#FFD500")
    page.fill("textarea[name='texts.en.welcome']", "Hello from the browser test")

    page.wait_for_function("(before) => document.getElementById('preview').src !== before", arg=first_image)
    assert ratio_of(page, PAIR_ON_PRIMARY) != first_ratio
    assert page.locator("#contrast tbody tr").count() == page.locator("#contrast tbody tr.passes").count()
    assert page.input_value("input[data-picker-for=primary]") == "#ffd500"

    page.fill("input[name=on_primary]", "#FFFFFF")
    failing = page.locator(f'#contrast tr[data-pair="{PAIR_ON_PRIMARY}"].fails')
    failing.wait_for()
    assert page.locator('[data-field-slot="on_primary"] .field-error').inner_text().startswith(
        "This cannot be saved: text #FFFFFF on #FFD500")
    page.fill("input[name=on_primary]", "")
    page.locator('[data-field-slot="on_primary"] .field-error').wait_for(state="detached")

    with page.expect_navigation():
        page.click("#brand-form button[type=submit]")
    assert page.locator("#saved").is_visible()
    page.reload()

    assert page.input_value("input[name=primary]") == "#FFD500"
    assert page.input_value("textarea[name='texts.en.welcome']") == "Hello from the browser test"
    assert page.get_attribute("#brand-version", "data-version") == "1"
    assert (page.errors, csp_violations(page)) == ([], [])


def test_a_logo_over_the_limit_is_named_at_once_and_not_sent(sqlite_server, tenant, page):
    sign_in(page, sqlite_server, tenant.admin_email, path=f"/admin/modules/{tenant.module_id}/brand")
    page.set_input_files("input[name=logo]", files=[{"name": "huge.png", "mimeType": "image/png",
                                                     "buffer": b"\x89PNG" + bytes(3 * 1024 * 1024)}])
    page.wait_for_function("() => document.getElementById('preview-state').textContent.includes('larger')")
    mark_document(page)
    page.click("#brand-form button[type=submit]")

    assert page.inner_text("#preview-state") == "The chosen logo is larger than 2 MB."
    assert same_document(page)  # the form was not sent


def test_a_click_on_the_preview_shows_it_at_its_real_size_and_another_fits_it_again(sqlite_server, tenant, page):
    sign_in(page, sqlite_server, tenant.admin_email, path=f"/admin/modules/{tenant.module_id}/brand")
    shown_width = "() => document.getElementById('preview').clientWidth"
    natural_width = page.evaluate("() => document.getElementById('preview').naturalWidth")
    fitted = page.evaluate(shown_width)
    assert fitted < natural_width
    page.click("#preview-zoom")
    assert page.evaluate(shown_width) == natural_width
    assert page.get_attribute("#preview-zoom", "aria-pressed") == "true"
    page.click("#preview-zoom")
    assert page.evaluate(shown_width) == fitted
