"""The shared core of sosqueue: what the agent, the builder and the server agree on.

Every part may import this package; it imports none of them (``agent``, ``builder``,
``branding``, ``server``), and apart from :mod:`sosqueue.cli` (click) only the standard
library, so the frozen agent can carry it. What lives here, one home per concept:

- :mod:`sosqueue.statuses` and :mod:`sosqueue.events`: a service request's statuses and its
  history's event types;
- :mod:`sosqueue.codes`: session codes (``s12-345-678``);
- :mod:`sosqueue.payload` and :mod:`sosqueue.module_config`: the module file format and the
  configuration stamped into it;
- :mod:`sosqueue.connect`: Connect's wire vocabulary (message types, scopes, close codes);
- :mod:`sosqueue.platforms`: platform names and file-name rules; :mod:`sosqueue.binaries`:
  what kind of program a file is (ELF, PE, ``.app``), its glibc needs and signature;
- :mod:`sosqueue.desktop_entry`: freedesktop.org ``.desktop`` files;
- :mod:`sosqueue.i18n`: the one translation mechanism (gettext catalogues, compiled with
  Babel; each part has its own domain) and the installers' texts;
- :mod:`sosqueue.urls`: the queue server address checks;
- :mod:`sosqueue.updates` and :mod:`sosqueue.signing`: agent updates (the signed offer, IT's
  policy, the installers' marker) and the Ed25519 signatures they rest on;
- :mod:`sosqueue.errors` and :mod:`sosqueue.cli`: the ``sosqueue`` command's root, its exit
  codes and error classes; each part registers its commands (entry points
  ``sosqueue.commands`` and ``sosqueue.commands.module``).
"""

#: The release: the agent a base carries, the builder and the server share it; ``pyproject.toml`` reads it.
__version__ = "0.1.0"
