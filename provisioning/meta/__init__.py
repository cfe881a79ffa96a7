"""Meta (WhatsApp Cloud API, Embedded Signup) integration."""
