-- One company's additive numbers of one platform over a range of local days, as the staging models read them
-- from the raw tables: what a re-pull may restate, captured before and after the load that replaces them.
-- Parameters: :company_id, :platform, :start_date, :end_date.
-- Grain: one row per campaign, day and metric with a value. Unique key: (campaign_id, date, metric_key).
-- Shopify has no campaigns (campaign_id ''); GA4's campaign is the session campaign name. Reach and
-- frequency are not additive and are left out.
with ad_days as (
    select platform, campaign_id, date, currency, spend, impressions, clicks, conversions, conversion_value
    from staging.stg_meta_ads__campaign_daily
    where :platform = 'meta_ads' and company_id = :company_id and date between :start_date and :end_date
    union all
    select platform, campaign_id, date, currency, spend, impressions, clicks, conversions, conversion_value
    from staging.stg_google_ads__campaign_daily
    where :platform = 'google_ads' and company_id = :company_id and date between :start_date and :end_date
    union all
    select platform, campaign_id, date, currency, spend, impressions, clicks, conversions, conversion_value
    from staging.stg_tiktok_ads__campaign_daily
    where :platform = 'tiktok_ads' and company_id = :company_id and date between :start_date and :end_date
),

sales_days as (
    select date, currency, orders, revenue
    from staging.stg_shopify__daily_sales
    where :platform = 'shopify' and company_id = :company_id and date between :start_date and :end_date
),

traffic_days as (
    select coalesce(campaign, '') as campaign_id, date, sum(sessions) as sessions, sum(key_events) as key_events
    from staging.stg_ga4__traffic_daily
    where :platform = 'ga4' and company_id = :company_id and date between :start_date and :end_date
    group by coalesce(campaign, ''), date
),

metric_values as (
    select campaign_id, date, 'spend' as metric_key, spend as value, currency from ad_days
    union all
    select campaign_id, date, 'impressions', impressions, null from ad_days
    union all
    select campaign_id, date, 'clicks', clicks, null from ad_days
    union all
    select campaign_id, date, 'conversions', conversions, null from ad_days
    union all
    select campaign_id, date, 'conversion_value', conversion_value, currency from ad_days
    union all
    select '', date, 'orders', orders, null from sales_days
    union all
    select '', date, 'revenue', revenue, currency from sales_days
    union all
    select campaign_id, date, 'sessions', sessions, null from traffic_days
    union all
    select campaign_id, date, 'key_events', key_events, null from traffic_days
),

final as (
    select
        cast(:company_id as varchar) as company_id,
        cast(:platform as varchar) as platform,
        cast(campaign_id as varchar) as campaign_id,
        date,
        cast(metric_key as varchar) as metric_key,
        cast(sum(value) as numeric(18, 6)) as value,
        cast(max(currency) as varchar) as currency
    from metric_values
    where value is not null
    group by campaign_id, date, metric_key
)

select * from final
