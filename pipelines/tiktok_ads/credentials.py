"""What a TikTok Ads connection needs: a Marketing API access token and the advertiser it reads."""

from __future__ import annotations

from pydantic import Field, SecretStr

from pipelines.base import Credentials


class TikTokAdsCredentials(Credentials):
    """A long-lived advertiser access token (it lasts until revoked) and one advertiser id it was granted."""

    access_token: SecretStr = Field(
        min_length=1,
        description="Access token of a TikTok for Business developer app authorised by the advertiser "
        "(Ad Account Management and Reporting permissions).",
    )
    advertiser_id: str = Field(
        pattern=r"^[0-9]{1,32}$",
        description="The advertiser (ad account) id, digits only, as shown in TikTok Ads Manager.",
    )

    def account_id(self) -> str:
        """The advertiser id: every report request names it."""
        return self.advertiser_id
