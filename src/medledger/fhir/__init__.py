"""FHIR R4 in and out: import a legacy EHR's export as medledger records, serve them back.

A FHIR record's plaintext is a FHIR ``Bundle`` of type ``collection`` whose entries hold the
resources exactly as imported (:mod:`medledger.fhir.records`); the category it is filed under
follows :mod:`medledger.fhir.categories`.
"""
