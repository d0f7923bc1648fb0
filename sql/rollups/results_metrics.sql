-- One company's metrics over a period and its prior period: what GET /results shows.
-- Parameters: :company_id, :period_start, :period_end, :prior_start, :prior_end, and per kind of platform
-- :ads_settled_through, :commerce_settled_through, :analytics_settled_through: the earliest last day outside
-- the restatement window of that kind's connected platforms (null when none has loaded).
-- Grain: one row per metric the company has data for in the period.
-- Additive metrics are summed per period; avg_value is the sum per day with data. Ratios are derived from the
-- period's sums, never averaged from daily ratios, and are their own average; a zero denominator gives null.
-- Each ratio is one row of ratio_definitions: numerator and denominator sums joined by metric key, so a ratio
-- exists only where both sums do. Amounts in several currencies are never added: such a metric gets null value
-- and currency, and `currencies` names them so the route can warn.
-- maturing_days counts the period's days with data after the settled day of the metric's kind: days a sync
-- still re-pulls, whose numbers the platforms may still restate. A ratio matures with its denominator.
-- With :currency (an ISO 4217 code, null for none) the rows are read through sql/conversions/metric_daily.sql:
-- amounts are already in :currency day by day, so every currency's amounts add up, the ratios come from the
-- converted sums, `currency` is :currency for amounts, and `converted_from` names the currencies converted.
with days as (
    select
        metric_key,
        date,
        value,
        currency,
        date >= :period_start as in_period,
        -- The settled day of the kind of platform the metric comes from, as sql/marts/metric_daily.sql builds them.
        coalesce(date > case
            when metric_key in ('revenue', 'orders') then cast(:commerce_settled_through as date)
            when metric_key in ('sessions', 'key_events') then cast(:analytics_settled_through as date)
            else cast(:ads_settled_through as date)
        end, false) as is_maturing
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
        count(distinct case when in_period and is_maturing then date end) as maturing_days,
        count(distinct currency) as currency_count,
        min(currency) as currency,
        string_agg(distinct currency, ', ' order by currency) as currencies,
        cast(:currency as varchar) is not null as is_converted
    from days
    group by metric_key
),

additive as (
    select
        metric_key,
        cast(case when currency_count <= 1 or is_converted then value end as double precision) as value,
        cast(case when currency_count <= 1 or is_converted then prior_value end as double precision) as prior_value,
        data_points,
        maturing_days,
        case
            when currency_count >= 1 and is_converted then cast(:currency as varchar)
            when currency_count = 1 then currency
        end as currency,
        case when currency_count > 1 and not is_converted then currencies end as currencies,
        case when is_converted then currencies end as converted_from
    from sums
    where data_points > 0
),

ratio_definitions (metric_key, numerator, denominator, scale, is_amount) as (
    values
        ('roas', 'conversion_value', 'spend', 1, false),
        ('cpa', 'spend', 'conversions', 1, true),
        ('cpm', 'spend', 'impressions', 1000, true),
        ('cpc', 'spend', 'clicks', 1, true),
        ('ctr', 'clicks', 'impressions', 100, false)
),

ratios as (
    select
        ratio.metric_key,
        numerator.value / nullif(denominator.value, 0) * ratio.scale as value,
        numerator.prior_value / nullif(denominator.prior_value, 0) * ratio.scale as prior_value,
        denominator.data_points,
        denominator.maturing_days,
        case when ratio.is_amount then numerator.currency end as currency,
        coalesce(numerator.currencies, denominator.currencies) as currencies,
        coalesce(numerator.converted_from, denominator.converted_from) as converted_from
    from ratio_definitions as ratio
    inner join additive as numerator on ratio.numerator = numerator.metric_key
    inner join additive as denominator on ratio.denominator = denominator.metric_key
),

metrics as (
    select
        metric_key,
        value,
        value / nullif(data_points, 0) as avg_value,
        data_points,
        maturing_days,
        currency,
        prior_value,
        currencies,
        converted_from,
        false as is_ratio
    from additive
    union all
    select
        metric_key,
        value,
        value as avg_value,
        data_points,
        maturing_days,
        currency,
        prior_value,
        currencies,
        converted_from,
        true as is_ratio
    from ratios
),

final as (
    select
        metric_key,
        value,
        avg_value,
        data_points,
        maturing_days,
        currency,
        prior_value,
        (value - prior_value) / nullif(prior_value, 0) * 100 as delta_pct,
        currencies,
        converted_from,
        is_ratio
    from metrics
)

select * from final
order by metric_key
