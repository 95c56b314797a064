"""The package imports, names its version, and says what each call does."""

from __future__ import annotations

import paramdelta
import paramdelta.compat


def test_version_is_the_programs(cli):
    assert cli("--version").stdout.strip() == f"paramdelta {paramdelta.__version__}"


def test_every_public_name_is_documented():
    for name in paramdelta.__all__:
        if name == "__version__":
            continue
        assert getattr(paramdelta, name).__doc__, name
    for name in paramdelta.compat.__all__:
        assert getattr(paramdelta.compat, name).__doc__, name
