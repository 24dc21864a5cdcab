"""The patient portal: ``medledger portal --as <patient>`` (docs/portal.md)."""

from medledger.portal.app import PortalConfig, create_app

__all__ = ["PortalConfig", "create_app"]
