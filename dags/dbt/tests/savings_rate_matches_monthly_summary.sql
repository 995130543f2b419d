-- The dbt models compute income and spending from the transactions; the
-- marts stage computed them in Spark.  Every month must agree to the cent
-- (and the rates to their rounding), both ways: a row here is a month where
-- they differ or that only one side has.  It fails when the stage's
-- income/transfer categories are not the marts stage's.
select
    coalesce(s.month, m.month) as month,
    coalesce(s.currency, m.currency) as currency,
    s.income as dbt_income,
    m.income as marts_income,
    s.spend as dbt_spend,
    m.spend as marts_spend
from {{ ref('savings_rate') }} as s
full outer join {{ source('pipeline', 'monthly_summary') }} as m
    on m.month = s.month and m.currency = s.currency
where s.month is null
    or m.month is null
    or s.income <> m.income
    or s.spend <> m.spend
    or s.saved <> m.net
    or abs(coalesce(s.savings_rate_pct, 0) - coalesce(m.savings_rate, 0)) > 0.05
    or (s.savings_rate_pct is null) <> (m.savings_rate is null)
