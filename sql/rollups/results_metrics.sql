-- One company's metrics over a period and its prior period: what GET /results shows.
-- Parameters: :company_id, :period_start, :period_end, :prior_start, :prior_end.
-- Grain: one row per metric the company has data for in the period.
-- Additive metrics are summed per period; avg_value is the sum per day with data. Ratios are derived from the
-- period's sums, never averaged from daily ratios, and are their own average; a zero denominator gives null.
-- Amounts in several currencies are never added: such a metric gets null value and currency, and `currencies`
-- names them so the route can warn.
with days as (
    select
        metric_key,
        date,
        value,
        currency,
        date >= :period_start as in_period
    from metric_daily
    where
        company_id = :company_id
        and (date between :period_start and :period_end or date between :prior_start and :prior_end)
),

sums as (
    select
        metric_key,
        sum(case when in_period then value end) as value,
        sum(case when not in_period then value end) as prior_value,
        count(distinct case when in_period then date end) as data_points,
        count(distinct currency) as currency_count,
        min(currency) as currency,
        string_agg(distinct currency, ', ' order by currency) as currencies
    from days
    group by metric_key
),

additive as (
    select
        metric_key,
        cast(case when currency_count <= 1 then value end as double precision) as value,
        cast(case when currency_count <= 1 then prior_value end as double precision) as prior_value,
        data_points,
        case when currency_count = 1 then currency end as currency,
        case when currency_count > 1 then currencies end as currencies
    from sums
    where data_points > 0
),

-- The additive sums side by side, for the ratios. A metric the company has no data for stays null.
pivoted as (
    select
        max(case when metric_key = 'spend' then value end) as spend,
        max(case when metric_key = 'spend' then prior_value end) as prior_spend,
        max(case when metric_key = 'spend' then data_points end) as spend_days,
        max(case when metric_key = 'spend' then currency end) as spend_currency,
        max(case when metric_key = 'spend' then currencies end) as spend_currencies,
        max(case when metric_key = 'impressions' then value end) as impressions,
        max(case when metric_key = 'impressions' then prior_value end) as prior_impressions,
        max(case when metric_key = 'impressions' then data_points end) as impressions_days,
        max(case when metric_key = 'clicks' then value end) as clicks,
        max(case when metric_key = 'clicks' then prior_value end) as prior_clicks,
        max(case when metric_key = 'clicks' then data_points end) as clicks_days,
        max(case when metric_key = 'conversions' then value end) as conversions,
        max(case when metric_key = 'conversions' then prior_value end) as prior_conversions,
        max(case when metric_key = 'conversions' then data_points end) as conversions_days,
        max(case when metric_key = 'conversion_value' then value end) as conversion_value,
        max(case when metric_key = 'conversion_value' then prior_value end) as prior_conversion_value,
        max(case when metric_key = 'conversion_value' then data_points end) as conversion_value_days
    from additive
),

ratios as (
    select
        'roas' as metric_key,
        conversion_value / nullif(spend, 0) as value,
        prior_conversion_value / nullif(prior_spend, 0) as prior_value,
        spend_days as data_points,
        cast(null as varchar) as currency,
        spend_currencies as currencies
    from pivoted
    where spend_days is not null and conversion_value_days is not null
    union all
    select
        'cpa',
        spend / nullif(conversions, 0),
        prior_spend / nullif(prior_conversions, 0),
        conversions_days,
        spend_currency,
        spend_currencies
    from pivoted
    where spend_days is not null and conversions_days is not null
    union all
    select
        'cpm',
        spend / nullif(impressions, 0) * 1000,
        prior_spend / nullif(prior_impressions, 0) * 1000,
        impressions_days,
        spend_currency,
        spend_currencies
    from pivoted
    where spend_days is not null and impressions_days is not null
    union all
    select
        'cpc',
        spend / nullif(clicks, 0),
        prior_spend / nullif(prior_clicks, 0),
        clicks_days,
        spend_currency,
        spend_currencies
    from pivoted
    where spend_days is not null and clicks_days is not null
    union all
    select
        'ctr',
        clicks / nullif(impressions, 0) * 100,
        prior_clicks / nullif(prior_impressions, 0) * 100,
        impressions_days,
        cast(null as varchar),
        cast(null as varchar)
    from pivoted
    where clicks_days is not null and impressions_days is not null
),

metrics as (
    select
        metric_key,
        value,
        value / nullif(data_points, 0) as avg_value,
        data_points,
        currency,
        prior_value,
        currencies,
        false as is_ratio
    from additive
    union all
    select
        metric_key,
        value,
        value as avg_value,
        data_points,
        currency,
        prior_value,
        currencies,
        true as is_ratio
    from ratios
),

final as (
    select
        metric_key,
        value,
        avg_value,
        data_points,
        currency,
        prior_value,
        (value - prior_value) / nullif(prior_value, 0) * 100 as delta_pct,
        currencies,
        is_ratio
    from metrics
)

select * from final
order by metric_key
