"""Node start/stop helpers: nothing left running, Anvil state persisted across restarts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eth_account import Account

from medledger import errors as mle
from medledger.chain import TxSender, connect
from medledger.nodes import NodeProcess, find_free_port, find_tool, rpc_ready, start_anvil


def _gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.anvil
def test_anvil_state_survives_restart(tmp_path: Path) -> None:
    state = tmp_path / "state" / "anvil.json"
    target = Account.create().address
    port = find_free_port()
    with start_anvil(port=port, state_path=state, log_dir=tmp_path) as node:
        chain = connect(node.url)
        sender = chain.dev_accounts()[0]
        TxSender(chain, sender).transfer(target, 12345)
        block = chain.block_number()
    assert _gone(node.pid)
    assert not rpc_ready(node.url)
    assert state.is_file()

    with start_anvil(state_path=state, log_dir=tmp_path) as node2:
        chain2 = connect(node2.url)
        assert chain2.w3.eth.get_balance(target) == 12345
        assert chain2.block_number() >= block
    assert _gone(node2.pid)


@pytest.mark.anvil
def test_port_in_use_is_a_clear_error(anvil_node: NodeProcess, tmp_path: Path) -> None:
    with pytest.raises(mle.ChainUnavailable, match="in use"):
        start_anvil(port=anvil_node.port, log_dir=tmp_path, timeout=10)
    assert rpc_ready(anvil_node.url)  # the running node is untouched


def test_tools_come_from_the_env_var_then_path_never_the_source_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "my-anvil"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("MEDLEDGER_ANVIL", str(fake))
    assert find_tool("anvil") == fake

    fake.chmod(0o644)  # not executable: a clear error, no silent fallback to PATH
    with pytest.raises(mle.ToolNotFound, match="MEDLEDGER_ANVIL"):
        find_tool("anvil")

    monkeypatch.delenv("MEDLEDGER_ANVIL")
    monkeypatch.setenv("PATH", str(tmp_path))  # node_modules/.bin is not on PATH any more
    with pytest.raises(mle.ToolNotFound) as info:
        find_tool("anvil")
    assert "MEDLEDGER_ANVIL" in (info.value.hint or "")
    with pytest.raises(mle.ToolNotFound):
        start_anvil(log_dir=tmp_path)
