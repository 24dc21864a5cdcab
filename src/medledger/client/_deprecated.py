"""The flat ``Session`` methods of 0.1 (``session.grant(...)``), kept for one release.

Each one warns :class:`DeprecationWarning` and delegates to its namespace method.
"""

from __future__ import annotations

import warnings
from typing import Any

from medledger.client.types import InclusionProof


def _moved(name: str, namespace: str, attr: str) -> Any:
    def delegate(self: Any, *args: Any, **kwargs: Any) -> Any:
        warnings.warn(
            f"Session.{name}() is deprecated; use session.{namespace}.{attr}()",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(getattr(self, namespace), attr)(*args, **kwargs)

    delegate.__name__ = name
    delegate.__doc__ = f"Deprecated: use ``session.{namespace}.{attr}``."
    return delegate


#: flat name -> (namespace, method)
MOVED: dict[str, tuple[str, str]] = {
    "register_patient": ("identity", "register"),
    "keyring": ("identity", "keyring"),
    "register_provider": ("providers", "register"),
    "suspend_provider": ("providers", "suspend"),
    "reinstate_provider": ("providers", "reinstate"),
    "add_record": ("records", "add"),
    "list_records": ("records", "timeline"),
    "get_record": ("records", "get"),
    "fetch_sealed": ("records", "fetch_sealed"),
    "erase": ("records", "erase"),
    "grant": ("consent", "grant"),
    "grant_many": ("consent", "grant_many"),
    "revoke": ("consent", "revoke"),
    "sign_grant": ("consent", "sign_grant"),
    "sign_revoke": ("consent", "sign_revoke"),
    "configure_emergency": ("emergency", "configure"),
    "break_glass": ("emergency", "break_glass"),
    "log_access": ("access", "log"),
    "read": ("access", "read"),
    "read_many": ("access", "read_many"),
    "open_record_offline": ("access", "open_offline"),
    "audit_trail": ("audit", "trail"),
    "anchor_batch": ("anchors", "anchor_batch"),
    "read_batch": ("anchors", "read_batch"),
    "open_batch": ("anchors", "open_batch"),
    "prove_item": ("anchors", "prove_item"),
    "verify_item": ("anchors", "verify_item"),
    "set_guardians": ("recovery", "set_guardians"),
    "approve_recovery": ("recovery", "approve"),
    "execute_recovery": ("recovery", "execute"),
    "cancel_recovery": ("recovery", "cancel"),
}


class FlatSessionMethods:
    """Mixin: the deprecated flat methods (``session.relay(signed)`` is handled by the relay
    namespace itself, which is callable)."""

    @property
    def last_access_gas(self) -> int:
        """Deprecated: use ``session.access.last_gas``."""
        warnings.warn(
            "Session.last_access_gas is deprecated; use session.access.last_gas",
            DeprecationWarning,
            stacklevel=2,
        )
        return int(getattr(self, "access").last_gas)  # noqa: B009

    @staticmethod
    def prove_item(batch: Any, item: bytes) -> Any:
        """Deprecated: use ``session.anchors.prove_item`` (or ``client.anchors.prove_item``)."""
        warnings.warn(
            "Session.prove_item() is deprecated; use session.anchors.prove_item()",
            DeprecationWarning,
            stacklevel=2,
        )
        return InclusionProof.of(batch, item)


for _name, (_ns, _attr) in MOVED.items():
    if _name != "prove_item":
        setattr(FlatSessionMethods, _name, _moved(_name, _ns, _attr))
