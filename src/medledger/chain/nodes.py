"""Moved to :mod:`medledger.nodes` (importable without web3, for ``medledger node``); these names
stay importable from here."""

from medledger.nodes import (
    LOCAL_CHAIN_ID,
    NodeProcess,
    find_free_port,
    find_tool,
    port_in_use,
    rpc_ready,
    start_anvil,
    start_hardhat,
)

__all__ = [
    "LOCAL_CHAIN_ID",
    "NodeProcess",
    "find_free_port",
    "find_tool",
    "port_in_use",
    "rpc_ready",
    "start_anvil",
    "start_hardhat",
]
