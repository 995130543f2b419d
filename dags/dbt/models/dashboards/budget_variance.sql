-- Budget against actual spending per month and budget line, with the
-- variance (positive = over budget), a status for colouring, the calendar
-- year to date, and how many of the last 12 months were over budget.  The
-- budgets come from the reference data through the marts stage's
-- budget_vs_actual (the only place they are in the work dir).
with lines as (
    select
        month,
        cast(month || '-01' as date) as month_start,
        currency,
        category,
        budget,
        actual
    from {{ source('pipeline', 'budget_vs_actual') }}
)

select
    month,
    month_start,
    currency,
    category,
    budget,
    actual,
    cast(actual - budget as decimal(14, 2)) as variance,
    cast(round(100 * (actual - budget) / nullif(budget, 0), 1) as double) as variance_pct,
    case
        when actual > budget then 'over'
        when budget > 0 and actual >= 0.9 * budget then 'near'
        else 'under'
    end as status,
    cast(sum(budget) over ytd as decimal(14, 2)) as ytd_budget,
    cast(sum(actual) over ytd as decimal(14, 2)) as ytd_actual,
    cast(sum(actual - budget) over ytd as decimal(14, 2)) as ytd_variance,
    cast(sum(case when actual > budget then 1 else 0 end) over last_12 as bigint) as months_over_in_12m
from lines
window
    ytd as (
        partition by currency, category, year(month_start) order by month_start
        rows between unbounded preceding and current row
    ),
    last_12 as (
        partition by currency, category order by month_start
        range between interval 11 month preceding and current row
    )
order by currency, month, category
