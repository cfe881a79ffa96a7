"""Provider reasons in plain words, and what a category change costs."""

from __future__ import annotations

# Meta's rejected_reason / status-update reason values (Template review, rejected status).
REJECTIONS = {
    "ABUSIVE_CONTENT": "Meta found content that breaks its policies (abusive content).",
    "INCORRECT_CATEGORY": "The content does not match the category chosen: submit it again "
    "in the category Meta suggests, or reword it.",
    "INVALID_FORMAT": "The template's format is invalid: check variables, examples and buttons.",
    "PROMOTIONAL": "Promotional content in a utility or authentication template: use the "
    "marketing category, or remove the promotion.",
    "SCAM": "Meta judged the template to be a scam attempt.",
    "TAG_CONTENT_MISMATCH": "The content does not match the category chosen.",
    "NONE": "",
}
PRICES = {
    "MARKETING": "the marketing price, the highest",
    "UTILITY": "the utility price (free inside a customer service window)",
    "AUTHENTICATION": "the authentication price",
}


def rejection_text(reason: str | None) -> str:
    """Why a template was rejected, in plain words (a provider's own words kept)."""
    if not reason:
        return ""
    return REJECTIONS.get(reason.upper(), f"The provider's reason: {reason}.")


def category_change_text(before: str | None, after: str, *, impending: bool = False) -> str:
    """What a re-categorisation means for what each message costs."""
    cost = PRICES.get(after, f"the {after.lower()} price")
    if impending:
        return (
            f"Meta will move this template from {before} to {after} in 24 hours; messages "
            f"sent with it will then cost {cost}."
        )
    return f"Meta moved this template from {before} to {after}: messages now cost {cost}."
