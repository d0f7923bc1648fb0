-- The European Central Bank's euro reference rates as loaded: units of a currency per euro, per publication day.
-- Grain: one row per publication day (TARGET business days only) and quoted currency. Unique key: (date, currency).
-- The euro is not quoted (its rate is 1): sql/marts/fx_rates.sql adds it.
with reference_rates as (
    select * from raw_fx.reference_rates
),

final as (
    select
        cast(date as date) as date,
        cast(currency as varchar) as currency,
        cast(rate as numeric(18, 6)) as rate_per_eur
    from reference_rates
)

select * from final
