-- The grain every dashboard model starts from: one row per curated
-- transaction, with its kind (income, transfer, spend; the marts stage's
-- rule, macros/sources.sql) and its month as a date for range windows.
-- A view in the scratch database: not written to the work dir.
select
    txn_id,
    account_id,
    account_name,
    account_type,
    txn_date,
    month,
    cast(month || '-01' as date) as month_start,
    merchant,
    category,
    currency,
    amount,
    {{ sparkflow_kind('category') }} as kind
from {{ source('pipeline', 'transactions') }}
