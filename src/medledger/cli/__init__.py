"""The ``medledger`` command line (click + rich).

Start-up cost matters for a command people type all day: this package and the command modules
import only click and the standard library at module level; the SDK (web3, py-evm, cryptography)
and rich are imported inside the functions that need them.
"""
