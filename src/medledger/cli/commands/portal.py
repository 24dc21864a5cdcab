"""``medledger portal``: the patient's web portal on 127.0.0.1 (docs/portal.md).

The key never leaves the keystore file and this process: the browser unlocks it with the keystore
password, the portal keeps the unlocked session server-side and forgets it on "Lock", after
``--idle`` minutes without activity, or when it stops. ``--demo`` seeds a persistent local node
(its own Anvil under $MEDLEDGER_HOME/demo, state saved on disk) with the reference scenario once,
then opens the portal on it as the scenario's patient.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medledger.cli.output import note
from medledger.cli.profiles import home
from medledger.cli.state import get_state, key_path, read_password, sdk_options
from medledger.errors import InvalidInput, KeystoreError, MedledgerError

if TYPE_CHECKING:
    from medledger.client import Medledger

#: the keystore name the demo saves the scenario's patient under
DEMO_ACCOUNT = "demo-patient"


@click.command(
    epilog="""\b
Examples:
  medledger portal --demo                 # seed a local demo node once, open the portal on it
  medledger portal --as alice             # your record, on the current profile's node
  medledger portal --as alice --no-browser --port 8800 --idle 5"""
)
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port (0 = any free).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--no-browser", is_flag=True, help="Print the address instead of opening it.")
@click.option(
    "--idle",
    type=click.FloatRange(0.1, 24 * 60),
    default=15.0,
    show_default=True,
    help="Lock after this many minutes without a page request.",
)
@click.option(
    "--demo", is_flag=True, help="Seed a persistent demo node with the reference scenario."
)
@sdk_options
def portal(port: int, host: str, no_browser: bool, idle: float, demo: bool) -> None:
    """The patient's web portal: timeline, who can see what, access log, emergency, safety.

    Served on 127.0.0.1 (a random free port unless --port); opens your browser unless
    --no-browser. Unlock in the browser with the keystore password of --as; Ctrl-C stops it.
    """
    from medledger.portal import PortalConfig, create_app
    from medledger.services.runner import serve

    state = get_state()
    stop_node = None
    if demo:
        ml, account, rpc, stop_node = _demo()
    else:
        ml = state.medledger()
        name = state.account_name()
        assert name is not None
        account = name
        rpc = state.connection().rpc or "embedded"
    keystore = key_path(account)
    if not keystore.exists():
        raise KeystoreError(
            f"no key named {account!r} in {keystore.parent}",
            hint="the portal unlocks a keystore: see `medledger keys list`",
        )
    config = PortalConfig(
        keystore,
        account,
        idle_timeout=idle * 60,
        state_dir=home() / "portal",
        chain_label=f"the chain node at {rpc}",
    )
    app = create_app(ml, config)

    def ready(url: str) -> None:
        click.echo(f"medledger portal for {account}: {url}  (Ctrl-C stops it)", err=True)
        if demo:
            click.echo("demo: unlock with the password you chose for the demo patient", err=True)
        if not no_browser:
            import webbrowser

            webbrowser.open(url)

    try:
        serve(app, host, port, on_ready=ready)
    except KeyboardInterrupt:  # Ctrl-C is how a portal is stopped: not an error
        pass
    finally:
        click.echo("portal stopped; it forgot every unlocked key", err=True)
        if stop_node is not None:
            stop_node()


def _demo() -> tuple[Medledger, str, str, Any]:
    """Start (or reuse) the demo node, seed it once, return (ml, account, rpc, stop)."""
    from medledger.cli import nodeproc
    from medledger.client import Medledger

    root = home() / "demo"
    paths = nodeproc.NodePaths(root / "node")
    marker = root / "seeded.json"
    seeded = marker.exists()
    password = None
    if not seeded:
        if key_path(DEMO_ACCOUNT).exists():
            raise InvalidInput(
                f"a key named {DEMO_ACCOUNT!r} exists but the demo node is not seeded",
                hint=f"move {key_path(DEMO_ACCOUNT)} away (or remove {root}) and run again",
            )
        password = read_password("Choose a password for the demo patient's key", confirm=True)
    rpc, started = nodeproc.start(paths, port=None if paths.info.exists() else 0)

    def stop() -> None:
        if started:
            nodeproc.stop(paths)  # SIGTERM: Anvil writes its state file first

    try:
        ml = Medledger.open(
            rpc=rpc, store=str(root / "store"), manifest=paths.manifest, deploy=True
        )
        if not seeded:
            assert password is not None
            _seed(ml, password, marker)
            nodeproc.save_state(paths, rpc)
        else:
            _check_seeded(ml, marker, root)
    except BaseException:
        stop()
        raise
    return ml, DEMO_ACCOUNT, rpc, stop


def _seed(ml: Medledger, password: str, marker: Path) -> None:
    from medledger.crypto import Keystore
    from medledger.scenario import run_reference_scenario

    note("seeding the demo node with the reference scenario (a minute or two) ...")
    result = run_reference_scenario(ml)
    pid = result.patient_id
    # a little more history for the portal's pages: a break-glass window open now, and one
    # more read by the clinic (the scenario's parties are cached dev accounts of ``ml``)
    try:
        er, clinic = ml.session(ml.dev_party(4)), ml.session(ml.dev_party(2))
        ml.increase_time(ml.patient(pid).break_glass_cooldown + 60)  # the ER's cooldown ends
        er.emergency.break_glass(
            pid, "life_threatening", timedelta(hours=12), "Collapsed at home; allergies needed"
        )
        first = clinic.records.timeline(pid)[0]
        clinic.access.read(first.record_id, purpose="treatment", patient_id=pid)
    except MedledgerError as exc:  # the demo still works without these extras
        note(f"demo: skipped an extra step: {exc}")
    patient = ml.dev_party(1)
    path = key_path(DEMO_ACCOUNT)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    Keystore.create(password, patient.account, identity_key=patient.identity).save(path)
    marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    marker.write_text(json.dumps({"patient_id": pid, "account": DEMO_ACCOUNT}) + "\n")


def _check_seeded(ml: Medledger, marker: Path, root: Path) -> None:
    try:
        pid = int(json.loads(marker.read_text())["patient_id"])
    except (OSError, ValueError, KeyError, TypeError):
        pid = 0
    if pid < 1 or int(ml.patient(pid).controller, 16) == 0:
        raise InvalidInput(
            f"the demo node under {root} lost its seeded state",
            hint=f"remove {root} and {key_path(DEMO_ACCOUNT)}, then run `medledger portal --demo`",
        )
