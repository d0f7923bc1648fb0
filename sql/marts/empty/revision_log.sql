-- The columns and types of marts.revision_log, with no rows: for a company with nothing published yet.
select
    cast(null as varchar) as company_id,
    cast(null as varchar) as platform,
    cast(null as varchar) as campaign_id,
    cast(null as date) as date,
    cast(null as varchar) as metric_key,
    cast(null as numeric(18, 6)) as previous_value,
    cast(null as numeric(18, 6)) as new_value,
    cast(null as numeric(18, 6)) as change,
    cast(null as varchar) as currency,
    cast(null as timestamp) as seen_at
where 1 = 0
