"""``python -m medledger.cli``: the same as the ``medledger`` console script."""

from medledger.cli.main import main

main()
