-- Daily spend of each of one company's campaigns over a period, for sparklines: GET /results/campaigns/daily.
-- Parameters: :company_id, :period_start, :period_end, :platform (null for all), and per ad platform
-- :<platform>_settled_through, the last day outside its restatement window (null when it has not loaded).
-- Grain: one row per campaign with delivery in the period and per day of the period, zero on days without
-- spend, ordered by campaign and date. A day after its platform's settled day is maturing: a sync re-pulls it
-- and the platform may still restate it.
with delivery as (
    select
        platform,
        campaign_id,
        date,
        spend
    from campaign_daily
    where
        company_id = :company_id
        and (cast(:platform as varchar) is null or platform = cast(:platform as varchar))
        and date between :period_start and :period_end
),

campaigns as (
    select distinct platform, campaign_id from delivery
),

calendar as (
    select cast(day as date) as date
    from generate_series(cast(:period_start as timestamp), cast(:period_end as timestamp), interval '1 day') as days (day)
),

spend_per_day as (
    select platform, campaign_id, date, sum(spend) as spend
    from delivery
    group by platform, campaign_id, date
),

final as (
    select
        campaigns.platform,
        campaigns.campaign_id,
        calendar.date,
        cast(coalesce(spend_per_day.spend, 0) as double precision) as spend,
        coalesce(calendar.date > case campaigns.platform
            when 'meta_ads' then cast(:meta_ads_settled_through as date)
            when 'google_ads' then cast(:google_ads_settled_through as date)
            when 'tiktok_ads' then cast(:tiktok_ads_settled_through as date)
        end, false) as maturing
    from campaigns
    cross join calendar
    left join spend_per_day
        on campaigns.platform = spend_per_day.platform
        and campaigns.campaign_id = spend_per_day.campaign_id
        and calendar.date = spend_per_day.date
)

select * from final
order by campaign_id, platform, date
