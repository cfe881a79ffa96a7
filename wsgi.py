"""The WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``."""

import gc
import sys

from portal import create_app
from portal.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"Configuration error: {exc}")

# What the app built lives as long as the process: out of the collector's reach, so a full
# collection walks only what requests allocate (and, forked by ``gunicorn --preload``,
# the workers keep sharing those pages with the master).
gc.freeze()
