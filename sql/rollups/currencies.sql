-- The currencies results can be converted into: those of the latest ECB publication loaded, the euro included.
-- Grain: one row per currency, in code order, with the day its latest rate was published.
with rates as (
    select * from fx_rates
),

final as (
    select
        currency,
        valid_from as published_on
    from rates
    where valid_until = cast('9999-12-31' as date)
)

select * from final
order by currency
