-- GA4 sessions, key events and revenue per property-local day, session campaign and source/medium.
-- Grain: one row per company, day, session campaign and source/medium (a company has one property).
-- Unique key: (company_id, date, campaign, source_medium).
-- GA4 sends metrics as strings; key_events is a float metric, revenue is in major units.
with traffic as (
    select * from raw_ga4.traffic_daily
),

final as (
    select
        company_id,
        date,
        session_campaign_name as campaign,
        session_source_medium as source_medium,
        cast(coalesce(sessions, '0') as bigint) as sessions,
        cast(coalesce(key_events, '0') as numeric(18, 6)) as key_events,
        cast(coalesce(total_revenue, '0') as numeric(18, 6)) as ga4_revenue,
        currency
    from traffic
)

select * from final
