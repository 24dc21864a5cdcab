"""Constants shared by the crypto tests (a plain module: conftest files are not for importing)."""

from __future__ import annotations

PATIENT = 42
AUTHOR = "0x1111111111111111111111111111111111111111"
GRANTEE = "0x2222222222222222222222222222222222222222"
OTHER = "0x3333333333333333333333333333333333333333"
LABS, NOTES, IMAGING = 3, 5, 4
