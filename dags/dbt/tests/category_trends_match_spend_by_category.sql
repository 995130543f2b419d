-- category_trends (from the transactions, zero-filled) against the marts
-- stage's spend_by_category: every mart row has the same spend and count,
-- and every grid cell the mart lacks is 0.
select
    coalesce(c.month, m.month) as month,
    coalesce(c.category, m.category) as category,
    c.spend as dbt_spend,
    m.spend as marts_spend
from {{ ref('category_trends') }} as c
full outer join {{ source('pipeline', 'spend_by_category') }} as m
    on m.month = c.month and m.currency = c.currency and m.category = c.category
where c.month is null
    or (m.month is null and (c.spend <> 0 or c.transactions <> 0))
    or (m.month is not null and (c.spend <> m.spend or c.transactions <> m.transactions))
