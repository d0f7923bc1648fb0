-- Meta Ads daily campaign delivery in our units.
-- Grain: one row per company, ad account, campaign and account-local day.
-- Unique key: (company_id, platform, account_id, campaign_id, date).
-- Meta sends every metric as a string; spend and the chosen purchase value are major units. A null
-- conversions or conversion_value means Meta left the action out: nothing happened, so zero.
with insights as (
    select * from raw_meta_ads.campaign_daily
),

final as (
    select
        company_id,
        cast('meta_ads' as varchar) as platform,
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
    from insights
)

select * from final
