"""360dialog (Partner API, Integrated Onboarding) integration."""
