-- The columns and types of marts.metric_daily, with no rows: what the serving layer reads for a company that
-- has nothing published yet, so the rollups run unchanged and answer with nothing.
select
    cast(null as varchar) as company_id,
    cast(null as varchar) as metric_key,
    cast(null as date) as date,
    cast(null as numeric(18, 6)) as value,
    cast(null as varchar) as currency
where 1 = 0
