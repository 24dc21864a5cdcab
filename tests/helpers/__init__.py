"""Shared test helpers and fixtures, importable from every test folder as ``helpers.<module>``
(pytest puts ``tests/`` on sys.path: ``pythonpath`` in pyproject.toml).

Not a ``tests`` package: pymultihash installs a stray top-level ``tests`` package into
site-packages, which would shadow ours.

- ``chains``: session Anvil / Hardhat 2 nodes and the embedded chain (fixtures)
- ``ipfs_daemon``: the session js-ipfs daemon (fixtures)
- ``chain``, ``cli``, ``audit``, ``crypto``, ``storage``: helpers of those test folders
"""
