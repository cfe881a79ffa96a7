"""``Test connection`` against the sandbox: success and the provider's refusal in plain words."""

import pytest

from portal.demo import partner_values
from portal.sandbox_seed import seed_sandbox
from provisioning.partner_checks import check_configuration
from provisioning.partners import Environment, PartnerConfiguration, Provider
from provisioning.sandbox import Sandbox


@pytest.fixture
def sandbox():
    sandbox = Sandbox(seed=7)
    seed_sandbox(sandbox, "http://portal.test")
    return sandbox


def config_for(provider: Provider, sandbox: Sandbox, **changes) -> PartnerConfiguration:
    values = partner_values(sandbox.base_url, "http://portal.test")[provider] | changes
    spec_secrets = {f.name for f in PartnerConfiguration(provider=provider).spec.fields if f.secret}
    return PartnerConfiguration(
        provider=provider,
        environment=Environment.SANDBOX,
        name="x",
        settings={k: v for k, v in values.items() if k not in spec_secrets},
        secrets={k: v for k, v in values.items() if k in spec_secrets},
    )


@pytest.mark.parametrize("provider", list(Provider))
def test_connection_works_with_the_right_credentials(provider, sandbox):
    ok, message = check_configuration(config_for(provider, sandbox), sandbox.transport())
    assert ok, message


@pytest.mark.parametrize(
    ("provider", "secret"),
    [
        (Provider.META, "app_secret"),
        (Provider.DIALOG360, "api_key"),
        (Provider.TWILIO, "auth_token"),
    ],
)
def test_wrong_credentials_are_reported_in_plain_words(provider, secret, sandbox):
    config = config_for(provider, sandbox, **{secret: "wrong-value"})
    ok, message = check_configuration(config, sandbox.transport())
    assert not ok
    assert message.startswith("the provider refused the credentials"), message
