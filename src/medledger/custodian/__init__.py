"""Custodian mode: a threshold proxy re-encryption service (Umbral) that re-encrypts a record's
capsule for a reader only after checking, on its own chain node, that the reader logged an
allowed access on-chain. See docs/custodians.md."""
