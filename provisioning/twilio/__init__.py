"""Twilio: subaccounts, SMS numbers, WhatsApp senders and A2P 10DLC registration.

Roles, as in every provider package: ``api`` (the only module calling Twilio, through the
official SDK), ``models``, ``onboarding`` (the A2P registration run), ``webhooks``,
``sync``; ``numbers``, ``senders`` and ``a2p`` are the services the pages call, and
``claims`` keeps a create with side effects from running twice at once.
"""
