-- The currencies one company's campaigns reported their amounts in over a period: what a converted
-- GET /results/campaigns/daily says it converted from.
-- Parameters: :company_id, :period_start, :period_end, :platform (null for all).
-- Grain: one row, `currencies` comma-separated in code order (null when the period has no amounts).
with delivery as (
    select currency
    from campaign_daily
    where
        company_id = :company_id
        and (cast(:platform as varchar) is null or platform = cast(:platform as varchar))
        and date between :period_start and :period_end
),

final as (
    select string_agg(distinct currency, ', ' order by currency) as currencies
    from delivery
)

select * from final
