-- The columns and types of stg_ga4__traffic_daily, with no rows: stands in until a property is loaded.
select
    cast(null as varchar) as company_id,
    cast(null as date) as date,
    cast(null as varchar) as campaign,
    cast(null as varchar) as source_medium,
    cast(null as bigint) as sessions,
    cast(null as numeric(18, 6)) as key_events,
    cast(null as numeric(18, 6)) as ga4_revenue,
    cast(null as varchar) as currency
where 1 = 0
