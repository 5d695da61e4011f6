"""The admin's module config: the template, parsing, and every refusal with its exit code."""

import dataclasses
import tomllib
from pathlib import Path

import pytest

from sosqueue import module_config as stamped_config
from sosqueue.module_config import BRAND_TEXTS, TEXT_LANGUAGES
from branding.model import DEFAULT_LOGO, Brand
from builder import module_config
from sosqueue.errors import BrandError, ConfigError, ExitCode
from builder.module_config import check_server_url, load, parse, template

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def parsed(tmp_path: Path, **sections) -> module_config.ModuleSpec:
    """Parse ``sections``; the server URL is an https one unless given."""
    sections.setdefault("server", {"url": "https://q.example.com"})
    return parse(sections, base_dir=tmp_path)


def test_template_is_valid_toml_that_builds_the_default_brand(tmp_path):
    """The template parses as it is: default brand, no server of its own (the registering one
    is stamped), version 1.0.0, no id yet."""
    path = tmp_path / "module.toml"
    path.write_text(template(), encoding="utf-8")
    spec = load(path)
    assert spec.brand == Brand()
    assert spec.brand.logo == DEFAULT_LOGO
    assert (spec.server_url, spec.server_url_set, spec.version) == ("", False, "1.0.0")
    assert spec.registered is False
    assert (spec.name, spec.group, spec.assignment) == ("Support", None, "none")
    assert spec.options == stamped_config.Options()


def test_template_documents_every_setting():
    """Every key the parser accepts appears in the template, in its section."""
    data = tomllib.loads(template().replace("# on_primary =", "on_primary =").replace("# [[options.topics]]", "[[options.topics]]")
                         .replace("# label =", "label =").replace("# group =", "group ="))
    brand_keys = {item.name for item in dataclasses.fields(Brand) if item.init}
    option_keys = {item.name for item in dataclasses.fields(stamped_config.Options)} - {"fields"}
    assert set(data) == module_config.SECTIONS
    assert set(data["module"]) == {"name", "id", "token", "group", "assignment", "version"}
    assert set(data["server"]) == {"ca_bundle"}
    assert '# url = "https://' in template()
    assert set(data["brand"]) == brand_keys - {"welcome", "waiting"}  # the older form, in a comment
    assert '# welcome = "…" and waiting = "…" directly under [brand]' in template()
    assert {language: set(texts) for language, texts in data["brand"]["texts"].items()} == {
        language: set(BRAND_TEXTS) for language in TEXT_LANGUAGES}
    assert set(data["options"]) == option_keys | {"fields"}
    assert set(data["options"]["fields"]) == {"name", "email", "description"}
    assert set(data["options"]["topics"][0]) == {item.name for item in dataclasses.fields(stamped_config.Topic)}


def test_template_defaults_match_the_parsers_defaults(tmp_path):
    """The values the template shows are the values an empty config gets (but the version, which
    the template starts at 1.0.0)."""
    from_template = parse(tomllib.loads(template()), base_dir=tmp_path)
    from_nothing = parse({"module": {"version": "1.0.0"}}, base_dir=tmp_path)
    assert from_template == dataclasses.replace(from_nothing, brand_set=True)


def test_only_a_config_with_a_brand_section_sets_the_brand():
    """A ``[brand]`` section, even an empty one, makes the config's brand the module's brand."""
    assert parse({"brand": {}}, base_dir=Path(".")).brand_set
    assert not parse({}, base_dir=Path(".")).brand_set


@pytest.mark.parametrize("server, stamped, deliberate", [
    ({}, "", False),
    ({"url": "http://127.0.0.1:8765"}, "http://127.0.0.1:8765", False),  # what older templates filled in
    ({"url": "https://queue.example.com/"}, "https://queue.example.com", True),
])
def test_server_url_is_deliberate_only_when_set_to_another_address(tmp_path, server, stamped, deliberate):
    """Left out (or the old template's loopback address), the registering server is stamped."""
    spec = parse({"server": server}, base_dir=tmp_path)
    assert (spec.server_url, spec.server_url_set) == (stamped, deliberate)


@pytest.mark.parametrize("version, parsed", [("1.2.3", "1.2.3"), ("01.002.0003", "1.2.3"), ("", "")])
def test_version_is_read_as_x_y_z(tmp_path, version, parsed):
    """``[module] version`` is X.Y.Z; empty means none."""
    assert parse({"module": {"version": version}}, base_dir=tmp_path).version == parsed


@pytest.mark.parametrize("version", ["1.2", "1.2.3.4", "v1", "256.0.0", "1.0.65536", "latest"])
def test_bad_version_is_one_line_naming_the_setting(tmp_path, version):
    """A version installers cannot carry is a config error naming ``module.version``."""
    with pytest.raises(ConfigError, match="module.version") as raised:
        parse({"module": {"version": version}}, base_dir=tmp_path)
    assert "\n" not in str(raised.value)


def test_missing_config_file_says_how_to_write_one(tmp_path):
    """A config path that does not exist names ``sosqueue module init``."""
    with pytest.raises(ConfigError, match="module init") as raised:
        load(tmp_path / "nope.toml")
    assert raised.value.exit_code == ExitCode.CONFIG


def test_invalid_toml_is_a_config_error(tmp_path):
    """A file that is not TOML says so, with the parser's position."""
    path = tmp_path / "module.toml"
    path.write_text("[brand\ncompany = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path)


def test_unknown_section_is_named_with_the_known_ones(tmp_path):
    """``[brnad]`` is refused, listing the sections there are."""
    with pytest.raises(ConfigError, match=r"unknown section \[brnad\].*brand, module, options, server"):
        parsed(tmp_path, brnad={})


@pytest.mark.parametrize("section, key, error", [
    ("module", "nmae", ConfigError),
    ("server", "address", ConfigError),
    ("options", "autostrat", ConfigError),
    ("brand", "colour", BrandError),
])
def test_unknown_key_is_named_with_the_settings_there_are(tmp_path, section, key, error):
    """A misspelt key is refused with its name and the list of real settings."""
    with pytest.raises(error, match=rf"{key}.*is not (a|a brand) setting"):
        parsed(tmp_path, **{section: {key: "x"}})


def test_unknown_field_key_is_refused(tmp_path):
    """``[options.fields]`` takes only name, email and description."""
    with pytest.raises(ConfigError, match="options.fields.phone is not a setting"):
        parsed(tmp_path, options={"fields": {"phone": "optional"}})


@pytest.mark.parametrize("sections, message", [
    ({"module": {"name": 5}}, "module.name must be text"),
    ({"module": {"id": ["a"], "token": "t"}}, "module.id must be text"),
    ({"server": {"url": 8765}}, "server.url must be text"),
    ({"options": {"autostart": "yes"}}, "options.autostart must be true or false"),
    ({"options": {"fields": {"email": "maybe"}}}, "options.fields.email must be required, optional or hidden"),
    ({"options": {"fields": "all"}}, "options.fields must be a table"),
    ({"module": "Support"}, "module must be a table"),
])
def test_wrong_types_are_config_errors(tmp_path, sections, message):
    """A value of the wrong type names the key and what it must be."""
    with pytest.raises(ConfigError, match=message) as raised:
        parsed(tmp_path, **sections)
    assert raised.value.exit_code == ExitCode.CONFIG


@pytest.mark.parametrize("brand, message", [
    ({"company": 5}, "company: must be text"),
    ({"force_contrast": "yes"}, "force_contrast: must be true or false"),
])
def test_wrong_brand_types_are_brand_errors(tmp_path, brand, message):
    """A brand value of the wrong type is a brand error naming the key."""
    with pytest.raises(BrandError, match=message) as raised:
        parsed(tmp_path, brand=brand)
    assert raised.value.exit_code == ExitCode.BRAND


@pytest.mark.parametrize("module", [{"id": "abc"}, {"token": "secret"}])
def test_module_id_and_token_go_together(tmp_path, module):
    """An id without a token (or the other way round) is refused."""
    with pytest.raises(ConfigError, match="module.id and module.token go together"):
        parsed(tmp_path, module=module)


def test_id_and_token_make_a_registered_module(tmp_path):
    """With both filled in, the module needs no registration."""
    spec = parsed(tmp_path, module={"id": " m-1 ", "token": "tok"}, server={"url": "https://q.example.com"})
    assert spec.registered
    assert (spec.module_id, spec.module_token) == ("m-1", "tok")


def test_module_name_defaults_to_the_product(tmp_path):
    """Without ``module.name`` the queue lists the module by its product name."""
    spec = parsed(tmp_path, brand={"product": "Acme Help"}, server={"url": "https://q.example.com"})
    assert spec.name == "Acme Help"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8765", "http://localhost:8000", "http://[::1]:9000", "http://127.8.0.1",
    "https://queue.example.com", "https://queue.example.com/",
])
def test_encrypted_or_loopback_urls_are_accepted(url):
    """https:// anywhere and http:// on loopback need no flag; a trailing slash goes."""
    assert check_server_url(url, allow_insecure=False) == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://queue.example.com", "http://192.168.1.10:8765", "http://localhost.example.com"])
def test_http_to_other_hosts_needs_allow_insecure(url):
    """Plain http:// to a non-loopback host is refused unless allowed explicitly."""
    with pytest.raises(ConfigError, match="not encrypted.*--allow-insecure"):
        check_server_url(url, allow_insecure=False)
    assert check_server_url(url, allow_insecure=True) == url


@pytest.mark.parametrize("url", ["", "queue.example.com", "ftp://queue.example.com", "https://"])
def test_urls_that_are_not_http_addresses_are_refused(url):
    """Anything but an http(s) address with a host is refused, even with --allow-insecure."""
    with pytest.raises(ConfigError, match="is not an address like https://"):
        check_server_url(url, allow_insecure=True)


def test_ca_bundle_is_read_relative_to_the_config(tmp_path):
    """``server.ca_bundle`` starts at the config's folder and is carried as PEM bytes."""
    (tmp_path / "ca.pem").write_bytes(PEM)
    spec = parsed(tmp_path, server={"url": "https://q.example.com", "ca_bundle": "ca.pem"})
    assert spec.ca_bundle == PEM
    assert spec.agent_config().ca_bundle == PEM


def test_missing_ca_bundle_is_a_config_error(tmp_path):
    """A CA bundle that cannot be read is refused with its path."""
    with pytest.raises(ConfigError, match="server.ca_bundle: cannot read .*missing.pem"):
        parsed(tmp_path, server={"url": "https://q.example.com", "ca_bundle": "missing.pem"})


def test_ca_bundle_without_a_certificate_is_refused(tmp_path):
    """A file without a PEM certificate is not a CA bundle."""
    (tmp_path / "ca.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="holds no PEM certificate"):
        parsed(tmp_path, server={"url": "https://q.example.com", "ca_bundle": "ca.pem"})


def test_relative_logo_path_starts_at_the_config_folder(tmp_path):
    """``brand.logo = "logo.png"`` is the logo next to the config file, not in the working folder."""
    from PIL import Image

    folder = tmp_path / "acme"
    folder.mkdir()
    Image.new("RGBA", (128, 128), "#336699").save(folder / "logo.png")
    (folder / "module.toml").write_text('[brand]\nlogo = "logo.png"\n[server]\nurl = "https://q.example.com"\n')
    assert load(folder / "module.toml").brand.logo == folder / "logo.png"


def test_agent_config_carries_the_brand_and_options(tmp_path):
    """The agent's config has the brand's fields, the picked text colour and the options."""
    spec = parsed(tmp_path, server={"url": "https://q.example.com"},
                  brand={"company": "Acme", "product": "Acme Help", "primary": "#FFD700"},
                  options={"autostart": True, "fields": {"email": "required"}})
    config = spec.agent_config(module_id="m-1", module_token="tok", assets={"logo.png": b"x"})
    assert (config.module_id, config.module_token, config.server_url) == ("m-1", "tok", "https://q.example.com")
    assert config.brand.product == "Acme Help"
    assert config.brand.window_title == "Acme Help"
    assert config.brand.on_primary == spec.brand.text_color
    assert config.options.autostart is True
    assert config.options.fields.email == "required"
    assert config.assets == {"logo.png": b"x"}


# -- topics --------------------------------------------------------------------------------


TOPICS_TOML = """
[options]
autostart = true

[[options.topics]]
label = "Invoices and payments"
group = "Accounts"

[[options.topics]]
label = "Something else"
"""


def test_topics_are_read_in_order_with_their_groups(tmp_path):
    """``[[options.topics]]`` gives each topic a label and a group; without one, the module's own ("")."""
    spec = parse(tomllib.loads(TOPICS_TOML), base_dir=tmp_path)
    assert spec.options.topics == (stamped_config.Topic("Invoices and payments", "Accounts"),
                                   stamped_config.Topic("Something else", ""))
    assert spec.options.autostart is True


def test_the_templates_topic_example_parses_as_it_reads(tmp_path):
    uncommented = template().replace("# [[options.topics]]", "[[options.topics]]").replace("# label =", "label =") \
        .replace("# group =", "group =")
    topics = parse(tomllib.loads(uncommented), base_dir=tmp_path).options.topics
    assert [(topic.label, topic.group) for topic in topics] == [("Invoices and payments", "Accounts"),
                                                               ("Something else", "")]


@pytest.mark.parametrize("topics, message", [
    ([{"group": "Accounts"}], r"options.topics #1: topic '': a label is one line of 1 to 60 characters.*give it a label"),
    ([{"label": "x" * 61}], r"options.topics #1: .*1 to 60 characters"),
    ([{"label": "Billing"}, {"label": "billing"}], r"options.topics #2: the label 'billing' is there twice; give each"),
    ([{"label": "Billing", "team": "A"}], r"options.topics #1.team is not a setting; the settings are: group, label"),
    ([{"label": 5}], r"options.topics #1.label must be text"),
    ([{"label": f"T{n}"} for n in range(9)], r"options.topics: 9 topics, at most 8; remove some"),
    ("Billing", r"options.topics must be tables: write each topic as \[\[options.topics\]\]"),
])
def test_bad_topics_are_one_line_saying_what_to_fix(tmp_path, topics, message):
    with pytest.raises(ConfigError, match=message) as raised:
        parsed(tmp_path, options={"topics": topics})
    assert raised.value.exit_code == ExitCode.CONFIG
    assert "\n" not in str(raised.value)


def test_topics_reach_the_modules_config(tmp_path):
    spec = parse(tomllib.loads(TOPICS_TOML), base_dir=tmp_path)
    config = spec.agent_config(module_id="m-1", module_token="tok")
    assert stamped_config.to_json(config)["options"]["topics"] == (
        {"label": "Invoices and payments", "group": "Accounts"}, {"label": "Something else", "group": ""})
