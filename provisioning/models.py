"""Imports every table module, so ``Base.metadata`` knows the whole schema."""

from . import (  # noqa: F401
    accounts,
    api_keys,
    audit,
    channels,
    events,
    health,
    idempotency,
    invitations,
    job_failures,
    launches,
    login_throttle,
    mail,
    onboarding_links,
    partners,
    password_resets,
    platform_events,
    runs,
    send_readiness,  # channel events carry it: it registers itself there
    sync,
    tenancy,
    user_sessions,
)
from .dialog360 import models as dialog360_models  # noqa: F401
from .dialog360 import onboarding as dialog360_onboarding  # noqa: F401 (registers the flow)
from .meta import coexistence_sync as meta_coexistence  # noqa: F401 (its table and flow)
from .meta import models as meta_models  # noqa: F401
from .meta import onboarding as meta_onboarding  # noqa: F401 (registers the flow)
from .meta import sync as meta_sync  # noqa: F401 (the WABA refresh asks)
from .templates import models as template_models  # noqa: F401
from .twilio import models as twilio_models  # noqa: F401
from .twilio import onboarding as twilio_onboarding  # noqa: F401 (registers the A2P flow)
from .twilio import regulatory_run as twilio_regulatory  # noqa: F401 (registers the bundle flow)
from .twilio import tollfree_models as twilio_tollfree  # noqa: F401
