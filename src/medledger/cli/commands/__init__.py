"""One module per command family; each imports only click at module level."""
