"""Hosted onboarding links: the public page a link opens (``routes``), the company's pages
that manage its links (``manage``), and the URL rules both they and the API apply."""
