-- The totals per metric of the campaign rows one load left for its client's days: what the reconciliation
-- checks compare with the platform's own account-level totals for the same days.
-- Parameters: :snapshot_id. Grain: one row per metric the load's days have.
with written as (
    select metric_key, value from revisions.day_values
    where snapshot_id = :snapshot_id and phase = 'after'
),

final as (
    select metric_key, sum(value) as total
    from written
    group by metric_key
)

select * from final
order by metric_key
