-- The columns and types of stg_shopify__daily_sales, with no rows: stands in until a store is loaded.
select
    cast(null as varchar) as company_id,
    cast(null as date) as date,
    cast(null as bigint) as orders,
    cast(null as numeric(18, 6)) as revenue,
    cast(null as varchar) as currency
where 1 = 0
