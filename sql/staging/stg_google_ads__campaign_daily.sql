-- Google Ads daily campaign metrics in our units.
-- Grain: one row per company, customer, campaign and customer-local day.
-- Unique key: (company_id, platform, account_id, campaign_id, date).
-- Cost arrives in micros (int64 as a string); Google leaves zero values out, so a null metric is a zero.
-- Google reports no reach at campaign-day level.
with metrics as (
    select * from raw_google_ads.campaign_daily
),

final as (
    select
        company_id,
        cast('google_ads' as varchar) as platform,
        account_id,
        campaign_id,
        date,
        campaign_name,
        cast(cast(coalesce(metrics_cost_micros, '0') as numeric(18, 0)) * 0.000001 as numeric(18, 6)) as spend,
        cast(coalesce(metrics_impressions, '0') as bigint) as impressions,
        cast(coalesce(metrics_clicks, '0') as bigint) as clicks,
        cast(coalesce(metrics_conversions, 0) as numeric(18, 6)) as conversions,
        cast(coalesce(metrics_conversions_value, 0) as numeric(18, 6)) as conversion_value,
        cast(null as bigint) as reach,
        currency,
        account_timezone
    from metrics
)

select * from final
