-- TikTok Ads daily campaign report in our units.
-- Grain: one row per company, advertiser, campaign and advertiser-local day.
-- Unique key: (company_id, platform, account_id, campaign_id, date).
-- TikTok sends every metric as a string in major units; conversions is the configured purchase metric and
-- conversion_value TikTok's total_complete_payment_rate (the purchase value, despite its name).
with report as (
    select * from raw_tiktok_ads.campaign_daily
),

final as (
    select
        company_id,
        cast('tiktok_ads' as varchar) as platform,
        account_id,
        campaign_id,
        date,
        campaign_name,
        cast(coalesce(spend, '0') as numeric(18, 6)) as spend,
        cast(coalesce(impressions, '0') as bigint) as impressions,
        cast(coalesce(clicks, '0') as bigint) as clicks,
        cast(coalesce(conversions, '0') as numeric(18, 6)) as conversions,
        cast(coalesce(conversion_value, '0') as numeric(18, 6)) as conversion_value,
        cast(reach as bigint) as reach,
        currency,
        account_timezone
    from report
)

select * from final
