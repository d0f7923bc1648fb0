-- Captures of the days a load re-pulls, before and after it (phase), per load (snapshot_id); a load removes
-- its own captures once sql/revisions/revisions.sql has compared them.
create table if not exists revisions.day_values (
    snapshot_id varchar not null,
    phase varchar not null,
    company_id varchar not null,
    platform varchar not null,
    campaign_id varchar not null,
    date date not null,
    metric_key varchar not null,
    value numeric(18, 6),
    currency varchar
)
