"""``import smsframe`` is quick: the client (zeep), the journal (SQLAlchemy), the panels
(ipywidgets) and the charts (matplotlib) load when first used, and every public name
is still there."""

from __future__ import annotations

import subprocess
import sys

import smsframe

HEAVY = ("zeep", "sqlalchemy", "ipywidgets", "matplotlib")


def loaded_after(code: str) -> set[str]:
    program = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_importing_smsframe_loads_none_of_the_heavy_libraries():
    loaded = loaded_after("import smsframe, pandas as pd\npd.DataFrame().sms")
    assert not [name for name in HEAVY if name in loaded]


def test_normalizing_needs_none_of_them_either():
    loaded = loaded_after(
        "import smsframe, pandas as pd\npd.DataFrame({'phone': ['138 0013 8000']}).sms.normalize()"
    )
    assert not [name for name in HEAVY if name in loaded]


def test_every_public_name_and_submodule_is_there():
    for name in smsframe.__all__:
        assert getattr(smsframe, name) is not None, name
    assert smsframe.journal.default_url().startswith("sqlite:///")
    assert smsframe.SmsClient.__module__ == "smsframe.client"
    assert "SmsClient" in dir(smsframe)
    try:
        smsframe.nothing  # noqa: B018
    except AttributeError as error:
        assert "no attribute 'nothing'" in str(error)
    else:
        raise AssertionError("smsframe.nothing should not exist")
