-- One company's campaigns over a period, with the prior period's spend, and their totals: GET /results/campaigns.
-- Parameters: :company_id, :period_start, :period_end, :prior_start, :prior_end, :platform (null for all),
-- :sort_by (a column of the result; the route allows only the documented ones), :sort_dir (asc or desc).
-- Grain: one row per campaign (platform, campaign_id) with delivery in the period, then one totals row
-- (is_total) over exactly those campaigns. A campaign that ran only in the prior period is not listed.
-- Ratios come from the sums; a zero denominator gives null. Amounts in several currencies are never added:
-- the totals row then has null amounts and currency, and `currencies` names them.
-- With :currency (an ISO 4217 code, null for none) the rows are read through sql/conversions/campaign_daily.sql:
-- amounts are already in :currency day by day, so they add up across currencies, the ratios come from the
-- converted sums, `currency` is :currency, and `converted_from` names the currencies each row converted.
with days as (
    select
        platform,
        campaign_id,
        campaign_name,
        campaign_status,
        campaign_objective,
        daily_budget,
        lifetime_budget,
        spend,
        impressions,
        clicks,
        conversions,
        conversion_value,
        reach,
        currency,
        date >= :period_start as in_period
    from campaign_daily
    where
        company_id = :company_id
        and (cast(:platform as varchar) is null or platform = cast(:platform as varchar))
        and (date between :period_start and :period_end or date between :prior_start and :prior_end)
),

campaigns as (
    select
        platform,
        campaign_id,
        max(campaign_name) as campaign_name,
        max(campaign_status) as campaign_status,
        max(campaign_objective) as campaign_objective,
        cast(max(daily_budget) as double precision) as daily_budget,
        cast(max(lifetime_budget) as double precision) as lifetime_budget,
        cast(sum(case when in_period then spend end) as double precision) as spend,
        cast(sum(case when in_period then impressions end) as double precision) as impressions,
        cast(sum(case when in_period then clicks end) as double precision) as clicks,
        cast(sum(case when in_period then conversions end) as double precision) as conversions,
        cast(sum(case when in_period then conversion_value end) as double precision) as conversion_value,
        cast(sum(case when in_period then reach end) as double precision) as reach,
        -- Frequency divides only the impressions of days that report reach (Google Ads has none).
        cast(sum(case when in_period and reach is not null then impressions end) as double precision)
            as reach_impressions,
        cast(sum(case when not in_period then spend end) as double precision) as prior_spend,
        min(currency) as currency,
        string_agg(distinct currency, ', ' order by currency) as currencies,
        -- One currency (or none, for counts) exactly when the smallest equals the largest.
        coalesce(min(currency) = max(currency), true) as single_currency,
        cast(:currency as varchar) is not null as is_converted
    from days
    group by platform, campaign_id
    having count(case when in_period then 1 end) > 0
),

-- The currencies of every amount of the period: what the totals row converted from, when converting.
period_currencies as (
    select string_agg(distinct currency, ', ' order by currency) as period_currencies
    from days
    where in_period
),

-- The totals row's sums over exactly the campaigns listed.
totals as (
    select
        coalesce(min(currency) = max(currency), true) as single_currency,
        min(currency) as currency,
        string_agg(distinct currency, ', ' order by currency) as currencies,
        coalesce(sum(spend), 0) as spend,
        coalesce(sum(impressions), 0) as impressions,
        coalesce(sum(clicks), 0) as clicks,
        coalesce(sum(conversions), 0) as conversions,
        coalesce(sum(conversion_value), 0) as conversion_value,
        sum(reach) as reach,
        sum(reach_impressions) as reach_impressions,
        sum(prior_spend) as prior_spend,
        cast(:currency as varchar) is not null as is_converted
    from campaigns
),

rows as (
    select
        false as is_total,
        platform,
        campaign_id,
        campaign_name,
        campaign_status,
        campaign_objective,
        daily_budget,
        lifetime_budget,
        case when single_currency or is_converted then spend end as spend,
        impressions,
        clicks,
        conversions,
        case when single_currency or is_converted then conversion_value end as conversion_value,
        reach,
        reach_impressions,
        case when single_currency or is_converted then prior_spend end as prior_spend,
        case when is_converted then cast(:currency as varchar) when single_currency then currency end as currency,
        cast(null as varchar) as currencies,
        case when is_converted then currencies end as converted_from
    from campaigns
    union all
    select
        true,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        case when single_currency or is_converted then spend end,
        impressions,
        clicks,
        conversions,
        case when single_currency or is_converted then conversion_value end,
        reach,
        reach_impressions,
        case when single_currency or is_converted then prior_spend end,
        case when is_converted then cast(:currency as varchar) when single_currency then currency end,
        case when not single_currency and not is_converted then currencies end,
        case when is_converted then period_currencies end
    from totals
    cross join period_currencies
),

final as (
    select
        is_total,
        platform,
        campaign_id,
        campaign_name,
        campaign_status,
        campaign_objective,
        daily_budget,
        lifetime_budget,
        spend,
        impressions,
        clicks,
        conversions,
        conversion_value,
        reach,
        reach_impressions / nullif(reach, 0) as frequency,
        spend / nullif(impressions, 0) * 1000 as cpm,
        spend / nullif(clicks, 0) as cpc,
        clicks / nullif(impressions, 0) * 100 as ctr,
        conversion_value / nullif(spend, 0) as roas,
        spend / nullif(conversions, 0) as cpa,
        currency,
        (spend - prior_spend) / nullif(prior_spend, 0) * 100 as spend_delta_pct,
        currencies,
        converted_from
    from rows
),

-- The value each row is sorted by: one column of the campaign, picked by :sort_by.
ranked as (
    select
        final.*,
        case :sort_by
            when 'spend' then spend
            when 'impressions' then impressions
            when 'clicks' then clicks
            when 'conversions' then conversions
            when 'conversion_value' then conversion_value
            when 'reach' then reach
            when 'frequency' then frequency
            when 'roas' then roas
            when 'cpa' then cpa
            when 'cpm' then cpm
            when 'ctr' then ctr
        end as sort_number,
        case when :sort_by = 'campaign_name' then lower(campaign_name) end as sort_text
    from final
)

select * from ranked
order by
    is_total,
    case when :sort_dir = 'asc' then sort_number end asc nulls last,
    case when :sort_dir = 'desc' then sort_number end desc nulls last,
    case when :sort_dir = 'asc' then sort_text end asc nulls last,
    case when :sort_dir = 'desc' then sort_text end desc nulls last,
    campaign_id,
    platform
