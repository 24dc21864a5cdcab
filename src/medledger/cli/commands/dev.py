"""Dev-chain helpers: ``fund`` and ``time advance|now`` (embedded, Anvil, Hardhat only)."""

from __future__ import annotations

import click

from medledger.cli.output import emit, when
from medledger.cli.parsing import check_time, parse_amount, parse_duration
from medledger.cli.state import connection_options, get_state


@click.command(
    epilog="""\b
Examples:
  medledger fund alice                 # 10 ETH to key 'alice' on the local node
  medledger fund 0xAbC... --amount 0.5eth"""
)
@click.argument("account")
@click.option("--amount", default="10eth", show_default=True, help="10, 0.5eth, 20gwei, ...")
@connection_options
def fund(account: str, amount: str) -> None:
    """Give ACCOUNT (address or key name) ETH on a dev chain, to pay for transactions."""
    from medledger.cli import resolve

    wei = parse_amount(amount)
    address = resolve.address(account, irreversible=True)
    state = get_state()
    balance = state.medledger().fund(address, wei)
    data = {"address": address, "funded_wei": wei, "balance_wei": balance}
    emit(
        state.json,
        data,
        lambda con: con.print(
            f"funded {address} with {wei / 10**18:g} ETH (balance {balance / 10**18:g} ETH)"
        ),
    )


@click.group("time")
def time_() -> None:
    """Chain time on dev chains (to watch consents and break-glass expire)."""


@time_.command()
@click.argument("duration")
@connection_options
def advance(duration: str) -> None:
    """Move the chain clock forward by DURATION and mine a block.

    DURATION is a number and a unit (25h, 31d, 2w); the clock never goes back, and moving it
    past 9999-12-31 is refused before anything is sent.
    """
    delta = parse_duration(duration)
    state = get_state()
    ml = state.medledger()
    before = ml.now()
    # A block past the contracts' 40-bit time makes every later transaction revert, and the
    # clock never goes back: refuse before moving it (the bound is 9999-12-31, see MAX_TIME).
    check_time(before + int(delta.total_seconds()), f"chain time + {duration}")
    after = ml.increase_time(int(delta.total_seconds()))
    data = {"before": before, "after": after, "advanced": after - before}
    emit(state.json, data, lambda con: con.print(f"chain time {when(before)} -> {when(after)}"))


@time_.command()
@connection_options
def now() -> None:
    """Print the chain's current time (latest block)."""
    state = get_state()
    ts = get_state().medledger().now()
    emit(state.json, {"now": ts}, lambda con: con.print(f"{when(ts)} ({ts})"))
