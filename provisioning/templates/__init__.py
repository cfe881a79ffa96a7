"""Message templates of Meta, 360dialog and Twilio in one model: sync, webhooks, the
builder's checks and submission (issue 16)."""
