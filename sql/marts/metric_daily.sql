-- Additive base metrics per company and day, across platforms: what the results rollups sum over a period.
-- Grain: one row per company, metric, day and currency (one currency per metric unless the company's accounts
-- report in several). Unique key: (company_id, metric_key, date, currency).
-- Counts carry a null currency. Ratios (ROAS, CPA, CPM, CPC, CTR, frequency) are not stored: they are derived
-- from sums of these, never averaged. A metric no source reports (reach from Google alone) has no row.
-- :company_id selects the one company a client's refresh writes; null builds every company.
with campaign_daily as (
    select * from marts.campaign_daily
    where :company_id is null or company_id = :company_id
),

daily_sales as (
    select * from staging.stg_shopify__daily_sales
    where :company_id is null or company_id = :company_id
),

traffic_daily as (
    select * from staging.stg_ga4__traffic_daily
    where :company_id is null or company_id = :company_id
),

ad_metrics as (
    select company_id, 'spend' as metric_key, date, spend as value, currency from campaign_daily
    union all
    select company_id, 'impressions', date, impressions, null from campaign_daily
    union all
    select company_id, 'clicks', date, clicks, null from campaign_daily
    union all
    select company_id, 'conversions', date, conversions, null from campaign_daily
    union all
    select company_id, 'conversion_value', date, conversion_value, currency from campaign_daily
    union all
    select company_id, 'reach', date, reach, null from campaign_daily
),

sales_metrics as (
    select company_id, 'revenue' as metric_key, date, revenue as value, currency from daily_sales
    union all
    select company_id, 'orders', date, orders, null from daily_sales
),

traffic_metrics as (
    select company_id, 'sessions' as metric_key, date, sessions as value, null as currency from traffic_daily
    union all
    select company_id, 'key_events', date, key_events, null from traffic_daily
),

metric_values as (
    select company_id, metric_key, date, cast(value as numeric(18, 6)) as value, cast(currency as varchar) as currency
    from ad_metrics
    union all
    select company_id, metric_key, date, cast(value as numeric(18, 6)), cast(currency as varchar)
    from sales_metrics
    union all
    select company_id, metric_key, date, cast(value as numeric(18, 6)), cast(currency as varchar)
    from traffic_metrics
),

final as (
    select
        company_id,
        cast(metric_key as varchar) as metric_key,
        date,
        cast(sum(value) as numeric(18, 6)) as value,
        currency
    from metric_values
    where value is not null
    group by company_id, metric_key, date, currency
)

select * from final
