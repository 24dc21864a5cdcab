"""``import medledger`` is cheap; the facade names load on first use."""

from __future__ import annotations

import subprocess
import sys


def test_import_loads_no_web3() -> None:
    code = "import medledger, sys; assert 'web3' not in sys.modules, 'web3 imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_help_loads_no_web3() -> None:
    code = (
        "import sys\n"
        "from medledger.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'web3' not in sys.modules, 'web3 imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_public_names() -> None:
    import medledger
    from medledger import InvalidInput, Medledger, MedledgerError, Party, Session

    assert issubclass(InvalidInput, MedledgerError)
    assert Medledger.__module__ == "medledger.client.facade"
    assert Session.__name__ == "Session"
    assert Party.__name__ == "Party"
    assert set(medledger.__all__) <= set(dir(medledger))
    assert medledger.__version__
