"""Marketplace presets: each channel's published image rules as plain removal options.

A preset is expanded under the options given with it, so a caller can override any field
(``preset=amazon`` with ``format=png``). Where a channel states a number it is used as
stated; where it only recommends, the preset takes the recommendation; where it says
nothing (margins on most channels), the choice is ours and says so. Each names the
channel's own page; the numbers were checked against public summaries of those pages on
2026-12-04 (the channels change them: check before relying on one). docs/options.md#presets
lists them with what each preset sets.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple


class Preset(StrEnum):
    AMAZON = "amazon"
    EBAY = "ebay"
    ETSY = "etsy"
    SHOPIFY = "shopify"
    GOOGLE = "google"


class PresetRules(NamedTuple):
    options: dict[str, Any]
    source: str
    """Where the channel publishes its rules."""
    why: str
    """What the rules say, and which values are ours."""


RULES: dict[Preset, PresetRules] = {
    Preset.AMAZON: PresetRules(
        {
            "canvas": "2000x2000",
            "padding": "5%",
            "bg_color": "white",
            "format": "jpg",
            "max_upscale": 4,
        },
        "Amazon Seller Central, Product image requirements "
        "(sellercentral.amazon.com/help/hub/reference/external/G1881)",
        "main image: pure white background (RGB 255, 255, 255), the product filling 85 % or "
        "more of the frame, at least 1000 px on the longest side for zoom (2000 px "
        "recommended), JPEG preferred. 5 % padding: the product's longer side is 90 %; a "
        "small product may be enlarged up to 4 times (not 2) so that the 85 % rule holds.",
    ),
    Preset.EBAY: PresetRules(
        {"canvas": "1600x1600", "padding": "5%", "bg_color": "white", "format": "jpg"},
        "eBay, Picture policy and picture tips (ebay.com/help/policies/listing-policies/"
        "picture-policy?id=4370)",
        "at least 500 px on the longest side, 1600 px recommended for zoom; a plain white "
        "or neutral background recommended. The square and the 5 % padding are ours.",
    ),
    Preset.ETSY: PresetRules(
        {"canvas": "2000x2000", "padding": "8%", "bg_color": "white", "format": "jpg"},
        "Etsy Seller Handbook, listing photos (etsy.com/seller-handbook)",
        "at least 2000 px on the shortest side recommended; listing thumbnails are shown "
        "square-cropped, so a square keeps the whole product in them. The 8 % padding is "
        "ours.",
    ),
    Preset.SHOPIFY: PresetRules(
        {"canvas": "2048x2048", "padding": "5%", "bg_color": "white", "format": "jpg"},
        "Shopify Help Center, Product media types and sizes (help.shopify.com/en/manual/"
        "products/product-media/product-media-types)",
        "2048 x 2048 px displays best for square product images (up to 5000 x 5000 px, "
        "20 MB accepted). The white background and the 5 % padding are ours.",
    ),
    Preset.GOOGLE: PresetRules(
        {"canvas": "1500x1500", "padding": "7.5%", "bg_color": "white", "format": "jpg"},
        "Google Merchant Center, image link [image_link] (support.google.com/merchants/"
        "answer/6324350)",
        "at least 500 x 500 px (from 2027-01-31), 1500 x 1500 px or more recommended, at "
        "most 64 megapixels and 16 MB; JPEG or WebP recommended; the product should fill "
        "75-90 % of the image: 7.5 % padding gives 85 %.",
    ),
}

PRESETS: dict[Preset, dict[str, Any]] = {preset: rules.options for preset, rules in RULES.items()}
"""Each preset's options, as a caller would send them."""


def with_preset(given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with the options of the preset it names under its own: a preset counts
    as its options named one by one (an unknown name is left for validation to refuse)."""
    name = given.get("preset")
    return PRESETS[Preset(name)] | given if name in PRESETS else given
