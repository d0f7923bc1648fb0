-- Shopify sales per shop-local day: orders that are neither test nor cancelled, and their revenue.
-- Grain: one row per company and day (a company has one store).
-- Unique key: (company_id, date).
-- The load writes a row, zeros included, for every day whose orders it could read.
with daily_sales as (
    select * from raw_shopify.daily_sales
),

final as (
    select
        company_id,
        date,
        cast(orders_count as bigint) as orders,
        cast(revenue as numeric(18, 6)) as revenue,
        currency
    from daily_sales
)

select * from final
