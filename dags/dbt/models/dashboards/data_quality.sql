-- What the validate stage made of each bank export: rows accepted and
-- rejected, the share rejected and the most frequent reason (ties by name).
with valid as (
    select source_file, count(*) as valid_rows
    from {{ source('pipeline', 'valid') }}
    group by source_file
),

reasons as (
    select source_file, reject_reason, count(*) as n
    from {{ source('pipeline', 'rejected') }}
    group by source_file, reject_reason
),

rejected as (
    select
        source_file,
        sum(n) as rejected_rows,
        max(reject_reason) filter (where is_top) as top_reject_reason
    from (
        select *, row_number() over (partition by source_file order by n desc, reject_reason) = 1 as is_top
        from reasons
    )
    group by source_file
)

select
    coalesce(v.source_file, r.source_file) as source_file,
    coalesce(v.valid_rows, 0) as valid_rows,
    cast(coalesce(r.rejected_rows, 0) as bigint) as rejected_rows,
    cast(round(100 * coalesce(r.rejected_rows, 0) / (coalesce(v.valid_rows, 0) + coalesce(r.rejected_rows, 0)), 1)
        as double) as rejected_pct,
    r.top_reject_reason
from valid as v
full outer join rejected as r on r.source_file = v.source_file
order by source_file
