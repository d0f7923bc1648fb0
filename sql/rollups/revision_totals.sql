-- The total change per metric of one company's revisions: GET /results/revisions' totals.
-- Parameters: :company_id, :since (seen on or after this UTC day; null for all), :platform (null for all).
-- Grain: one row per metric and currency (amounts in several currencies are never added together).
with revisions as (
    select metric_key, change, currency
    from revision_log
    where
        company_id = :company_id
        and (cast(:platform as varchar) is null or platform = cast(:platform as varchar))
        and (cast(:since as date) is null or seen_at >= cast(:since as timestamp))
),

final as (
    select
        metric_key,
        currency,
        cast(sum(change) as double precision) as change,
        count(*) as revisions
    from revisions
    group by metric_key, currency
)

select * from final
order by metric_key, currency
