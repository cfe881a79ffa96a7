"""Fleet dashboard: channel counts, filters, keyset pages and health charts."""
